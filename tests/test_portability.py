"""Static checks that keep the package and the chapters runnable on a GPU or an Apple-silicon Mac.

A CPU test run cannot see these mistakes, because on a CPU every tensor and every random generator
live on the same device. On CUDA or MPS they fail at once:

* a ``torch.Generator()`` lives on the CPU; ``torch.multinomial(probs, 1, generator=g)`` with
  ``probs`` on the GPU raises "Expected a 'cuda' device type for generator";
* ``tensor.numpy()`` on a GPU tensor raises "can't convert cuda:0 device type tensor to numpy";
* MPS has no float64, so a float64 tensor created on the chosen device fails there.

The rule the book follows: random draws happen on the CPU (``probs.cpu()``) or in a function that
checks ``generator.device``; ``.numpy()`` always follows ``.cpu()``; float64 stays on the CPU.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "gptbook").rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.py"))

# calls that draw from a tensor's own values, so the tensor must be on the generator's device
SAMPLE_FROM_TENSOR = {"multinomial", "bernoulli", "normal_", "uniform_", "random_", "exponential_",
                      "bernoulli_", "cauchy_", "geometric_", "log_normal_"}
# factories that make a new tensor: with a generator they must not be asked for another device
FACTORIES = {"rand", "randn", "randint", "randperm", "normal", "empty", "zeros", "ones"}
FLOAT64 = {"float64", "double"}


CPU_FACTORIES = {"tensor", "as_tensor", "from_numpy", "zeros", "ones", "arange", "linspace", "rand",
                 "randn", "randint", "randperm", "full", "eye", "empty"}


def _is_cpu_call(node: ast.AST) -> bool:
    """True for ``x.cpu()`` or ``x.to("cpu")``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    if node.func.attr == "cpu":
        return True
    return node.func.attr == "to" and any(
        isinstance(a, ast.Constant) and a.value == "cpu" for a in node.args
    )


def _chain_has_cpu(node: ast.AST) -> bool:
    """True when a method chain such as ``x.detach().cpu().numpy()`` passes through ``.cpu()``."""
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        if _is_cpu_call(node):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def _on_cpu(node: ast.AST | None, assigned: dict[str, ast.expr], depth: int = 0) -> bool:
    """True when ``node`` is provably a CPU tensor (or a plain number): it went through ``.cpu()``,
    or was made by a torch factory without ``device=``, or is arithmetic on such values, or is a
    name last assigned one of those."""
    if node is None or depth > 20:
        return False
    if isinstance(node, ast.Constant) or _chain_has_cpu(node):
        return True
    if isinstance(node, ast.Name):
        value = assigned.get(node.id)
        return value is not None and _on_cpu(value, assigned, depth + 1)
    if isinstance(node, ast.BinOp):
        return _on_cpu(node.left, assigned, depth + 1) and _on_cpu(node.right, assigned, depth + 1)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id == "torch":
            if node.func.attr in CPU_FACTORIES:
                return _keyword(node, "device") is None
            return bool(node.args) and _on_cpu(node.args[0], assigned, depth + 1)
        if node.func.attr not in {"to", "cuda", "mps"}:
            return _on_cpu(owner, assigned, depth + 1)  # a method of a CPU tensor: x.sum(), x / y
    return False


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_cpu_constant(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == "cpu"


def _guards_generator_device(func: ast.AST | None) -> bool:
    """True when the enclosing function reads ``<something>.device`` of its generator."""
    if func is None:
        return False
    return any(
        isinstance(n, ast.Attribute) and n.attr == "device"
        and isinstance(n.value, ast.Name) and "gen" in n.value.id
        for n in ast.walk(func)
    )


def _assignments(scope: ast.AST, before_line: int) -> dict[str, ast.expr]:
    """The last value assigned to each plain name in ``scope`` before ``before_line``."""
    found: dict[str, tuple[int, ast.expr]] = {}
    for n in ast.walk(scope):
        if isinstance(n, ast.Assign) and n.lineno < before_line:
            for target in n.targets:
                if isinstance(target, ast.Name) and n.lineno >= found.get(target.id, (0, None))[0]:
                    found[target.id] = (n.lineno, n.value)
    return {k: v for k, (_, v) in found.items()}


def _is_float64(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in FLOAT64


def device_problems(source: str, name: str) -> list[str]:
    """Every line of ``source`` that breaks the device rules above, as readable messages."""
    tree = ast.parse(source)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def enclosing_function(node: ast.AST) -> ast.AST | None:
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
            continue
        fname = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        where = f"{name}:{node.lineno}"
        generator = _keyword(node, "generator")
        if generator is not None and fname in SAMPLE_FROM_TENSOR:
            # torch.multinomial(t, ...) samples t; t.multinomial(...) samples the receiver
            is_torch_fn = isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "torch"
            sampled = node.args[0] if is_torch_fn and node.args else getattr(node.func, "value", None)
            scope = enclosing_function(node) or tree
            if not (_on_cpu(sampled, _assignments(scope, node.lineno))
                    or _guards_generator_device(enclosing_function(node))):
                problems.append(
                    f"{where}: {fname}(..., generator=...) samples a tensor that may be on the GPU with "
                    "a generator that may be on the CPU; sample on the CPU: "
                    f"torch.{fname}(probs.cpu(), ..., generator=g).to(probs.device)"
                )
        device = _keyword(node, "device")
        if generator is not None and fname in FACTORIES and device is not None \
                and not _is_cpu_constant(device):
            problems.append(
                f"{where}: torch.{fname}(..., generator=g, device=...) needs g on that device; draw on "
                f"the CPU and move the result: torch.{fname}(..., generator=g).to(device)"
            )
        if fname == "numpy" and isinstance(node.func, ast.Attribute) and not node.args \
                and not _on_cpu(node.func.value, _assignments(enclosing_function(node) or tree,
                                                              node.lineno)):
            problems.append(
                f"{where}: .numpy() on a tensor that may be on the GPU; write .cpu().numpy() "
                "(a no-op on the CPU)"
            )
        to_float64 = fname == "double" or (fname == "to" and any(_is_float64(a) for a in node.args))
        if to_float64 and isinstance(node.func, ast.Attribute) and not _on_cpu(
                node.func.value, _assignments(enclosing_function(node) or tree, node.lineno)):
            problems.append(
                f"{where}: float64 conversion of a tensor that may be on the GPU; Apple's MPS has no "
                "float64: move it first, x.cpu().double()"
            )
        if _is_float64(_keyword(node, "dtype")) and device is not None and not _is_cpu_constant(device):
            problems.append(
                f"{where}: a float64 tensor on the chosen device; Apple's MPS has no float64, so keep "
                "float64 on the CPU or use float32"
            )
    return problems


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_random_draws_and_numpy_conversions_work_on_any_device(path: Path):
    problems = device_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


# The chapter 00 loop that failed on CUDA and MPS before the rule existed; the check must catch it.
OLD_CHAPTER_00_LOOP = """
generator = torch.Generator().manual_seed(0)
with torch.no_grad():
    for step in range(8):
        p = torch.softmax(model(window)[0][:, -1, :].float() / 0.8, dim=-1)
        nxt = torch.multinomial(p, 1, generator=generator)
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (OLD_CHAPTER_00_LOOP, "multinomial(..., generator=...) samples a tensor that may be on the GPU"),
        ("x = torch.randn(3, generator=g, device=dev)", "needs g on that device"),
        ("a = logits.softmax(-1).numpy()", ".numpy() on a tensor that may be on the GPU"),
        ("w = torch.zeros(3, dtype=torch.float64, device=dev)", "Apple's MPS has no float64"),
        ("t = probs.multinomial(1, generator=g)", "samples a tensor that may be on the GPU"),
        ("p = model(x)[0].double().cpu()", "float64 conversion of a tensor that may be on the GPU"),
    ],
)
def test_the_check_catches_each_mistake(source: str, expected: str):
    problems = device_problems(source, "example.py")
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    "source",
    [
        "nxt = torch.multinomial(p.cpu(), 1, generator=g).to(p.device)",
        "x = torch.randn(3, generator=g).to(dev)",
        "a = logits.detach().cpu().numpy()",
        "w = torch.zeros(3, dtype=torch.float64)",
        "p = model(x)[0].cpu().double()",
        "x = torch.randn(3, generator=g, device='cpu')",
        "def sample(probs, generator):\n"
        "    if generator.device != probs.device:\n"
        "        return torch.multinomial(probs.cpu(), 1, generator=generator).to(probs.device)\n"
        "    return torch.multinomial(probs, 1, generator=generator)\n",
    ],
)
def test_the_check_accepts_the_portable_forms(source: str):
    assert device_problems(source, "example.py") == []
