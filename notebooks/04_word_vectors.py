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
# # 04 Word vectors and analogies
#
# "You shall know a word by the company it keeps" (J. R. Firth, 1957). Words that appear in similar
# contexts tend to mean similar things: *king* and *duke* both come after "the", before "of", near
# "crown". If every word gets a vector, and words with similar neighbours get similar vectors, the
# vectors carry meaning. In this chapter we:
#
# 1. build the training pairs of **word2vec** (skip-gram with negative sampling) by hand;
# 2. train it on the words of Shakespeare, in well under a minute, and look at nearest neighbours;
# 3. load pretrained **GloVe** vectors and do arithmetic: king − man + woman ≈ queen,
#    paris − france + italy ≈ rome;
# 4. score 44 analogy questions, find a **gender direction**, draw a 2-D picture;
# 5. play with an **analogy widget**;
# 6. say why a GPT learns its own embeddings instead.
#
# Sources: Mikolov, Chen, Corrado and Dean (2013), "Efficient Estimation of Word Representations in
# Vector Space"; Mikolov, Sutskever, Chen, Corrado and Dean (2013), "Distributed Representations of
# Words and Phrases and their Compositionality" (skip-gram, negative sampling, subsampling);
# Pennington, Socher and Manning (2014), "GloVe: Global Vectors for Word Representation" (the 6B,
# 50-dimension vectors, public domain dedication and license PDDL); Bolukbasi et al. (2016), "Man is to
# Computer Programmer as Woman is to Homemaker?" (gender directions). Text: Shakespeare's complete
# works from Project Gutenberg (public domain).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from gptbook.data import glove, shakespeare
from gptbook.device import device, seed_everything
from gptbook.vectors import (
    UnknownWordError,
    accuracy_by_category,
    analogy,
    analogy_questions,
    direction,
    nearest,
    pca_2d,
    project,
    score_analogies,
)
from gptbook.widgets.analogy import analogy_answers, analogy_widget
from gptbook.widgets.html import refusal
from gptbook.word2vec import SkipGram, Vocab, skipgram_pairs, tokenize_words, train_word2vec

# The model is small: one CPU thread is as fast as two, and much faster when other programs share
# the CPU. This setting only affects this notebook's kernel.
torch.set_num_threads(1)
seed_everything(0)
dev = device()

# %% [markdown]
# ## 1. Skip-gram: predict the neighbours of a word
#
# Skip-gram turns running text into (centre word, neighbour) pairs: every word within `window` places
# of the centre is a neighbour. With `window = 1`, by hand, then with the package:

# %%
sentence = tokenize_words("To be, or not to be: that is the question.")
print(sentence)
by_hand = []
for i, centre in enumerate(sentence):
    for j in (i - 1, i + 1):
        if 0 <= j < len(sentence):
            by_hand.append((centre, sentence[j]))
print(by_hand[:6], "...", len(by_hand), "pairs")

vocab = Vocab.build(sentence, min_count=1)
c, o = skipgram_pairs(vocab.encode(sentence), window=1, rng=np.random.default_rng(0))
package = [(vocab.words[a], vocab.words[b]) for a, b in zip(c, o)]
assert sorted(package) == sorted(by_hand)

# %% [markdown]
# Each word has two vectors: `u` when it is the centre, `v` when it is a neighbour. For a real pair the
# model should say "yes": `sigmoid(u · v)` near 1. Asking "no" about *every* other word of the
# vocabulary would be slow, so **negative sampling** draws a few random words `n₁ … n_k` and asks
# `sigmoid(u · n)` near 0 for those. The loss of one pair is
# `−log sigmoid(u · v) − Σ log sigmoid(−u · nₖ)`. By hand against `SkipGram.loss`:

# %%
seed_everything(0)
sg = SkipGram(len(vocab), 3)
torch.nn.init.normal_(sg.out.weight)  # the trainer starts outputs at 0; random here to make it interesting
centre, neighbour, negatives = (torch.tensor([vocab.index["be"]]), torch.tensor([vocab.index["to"]]),
                                torch.tensor([[vocab.index["question"], vocab.index["that"]]]))
u = sg.inp.weight[centre[0]]
v_out = sg.out.weight
loss_by_hand = -(torch.log(torch.sigmoid(u @ v_out[neighbour[0]]))
                 + torch.log(torch.sigmoid(-u @ v_out[negatives[0, 0]]))
                 + torch.log(torch.sigmoid(-u @ v_out[negatives[0, 1]])))
print(f"by hand {loss_by_hand.item():.6f}   package {sg.loss(centre, neighbour, negatives).item():.6f}")
assert torch.allclose(loss_by_hand, sg.loss(centre, neighbour, negatives))

# %% [markdown]
# ## 2. word2vec on Shakespeare
#
# All the words of the complete works (lower-cased), keeping words seen at least 5 times. Two tricks
# from the paper: very frequent words ("the", "and") are randomly dropped (they say little about their
# neighbours), and the window is redrawn between 1 and 3 for every centre word, so close neighbours
# count more. The negatives are drawn with probability proportional to count^0.75. 32 dimensions,
# 3 negatives, 3 passes over the text, Adam with large batches.

# %%
words = tokenize_words(shakespeare())
print(f"{len(words):,} words, {len(set(words)):,} different")

# %%
result = train_word2vec(words, dim=32, window=3, negatives=3, min_count=5, epochs=3, seed=0)
wv = result.vectors
print(f"vocabulary: {len(wv):,} words seen 5+ times; "
      f"about {np.mean(result.pairs_per_epoch) / 1e6:.1f} million pairs per pass")
print(f"loss: {np.mean(result.losses[:20]):.1f} at the start, {np.mean(result.losses[-20:]):.1f} at the end")

# %% tags=["nbval-ignore-output"]
print(f"training took {result.seconds:.1f} s on this machine")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(result.losses, lw=0.5)
ax.set_xlabel("step (4,096 pairs each)")
ax.set_ylabel("loss per pair")
ax.set_title("word2vec on Shakespeare")
plt.show()

# %% [markdown]
# ### Nearest neighbours
#
# The words whose vectors have the highest cosine similarity with a word's vector. (Trained vectors
# differ a little from machine to machine, so the lists may too; the Checks test sets of expected
# words, not exact lists.)

# %% tags=["nbval-ignore-output"]
queries = ["thou", "two", "monday", "france", "king", "father", "red", "love"]
shakespeare_neighbours = {q: [w for w, _ in nearest(wv, q, k=8)] for q in queries}
for q, ns in shakespeare_neighbours.items():
    print(f"{q:7} -> {', '.join(ns)}")

# %% [markdown]
# Most lists make sense, and they show Shakespeare's English: *thou* sits with the verb forms that go
# with it (such as *art*, *dost*, *hast*, *canst*), numbers with numbers, days with days, *france* with other
# countries and French names from the history plays, *father* with family. Some lists are weaker
# (*love* is used in so many ways that its neighbours are mixed). Less than a million words is a small
# corpus for word2vec; the vectors below were trained on six billion.
#
# A word that is not in the vocabulary gets a clear error that names it:

# %%
try:
    nearest(wv, "computer")
except UnknownWordError as err:
    print("UnknownWordError:", err)

# %% [markdown]
# ## 3. GloVe: pretrained vectors
#
# GloVe (Pennington et al., 2014) learns vectors from how often words occur together in a large corpus
# (Wikipedia 2014 and Gigaword 5: six billion tokens). We use the 50-dimension vectors for 400,000
# lower-case words. An **analogy** "a is to b as c is to ?" is answered with the word nearest to
# `b − a + c`, leaving out a, b and c themselves (otherwise the answer is usually b or c).

# %%
gv = glove()
print(f"{len(gv):,} words, {gv.vectors.shape[1]} numbers each")
for a, b, c in [("man", "king", "woman"), ("france", "paris", "italy")]:
    answers = analogy(gv, a, b, c, k=5)
    print(f"{b} - {a} + {c} -> " + ", ".join(f"{w} ({s:.2f})" for w, s in answers))
king_queen = analogy(gv, "man", "king", "woman", k=1)[0][0]
paris_rome = analogy(gv, "france", "paris", "italy", k=1)[0][0]

# %% [markdown]
# Both are first. Now 44 questions written for this book, 11 in each of four kinds: country → capital,
# male → female, present → past tense, adjective → comparative. Each question uses one pair as the
# example for the next pair (france : paris :: italy : ?).

# %%
questions = analogy_questions()
results = score_analogies(gv, questions)
table = accuracy_by_category(results)
for category, (right, asked) in table.items():
    print(f"{category:12} {right:2d} / {asked} = {right / asked:.0%}")

# %%
print("the questions GloVe gets wrong (question -> its answer, expected):")
for r in results:
    if not r.correct:
        q = r.question
        print(f"  {q.a} : {q.b} :: {q.c} : ?   -> {r.answer}  (expected {q.expected})")

# %% [markdown]
# The misses are instructive: *canada → sydney* and *poland → lithuania* (a place near the right
# answer), *brother → cousin* (the right family), *go → got*, *speak → spoken* (the right verb, wrong
# form), *small → larger*, *easy → difficult* (a related adjective). The vectors know what the words are
# about, but the "relation" direction is only roughly the same from pair to pair.
#
# ## 4. A gender direction
#
# If *she* − *he*, *woman* − *man*, *queen* − *king* all point roughly the same way, their average is
# a **gender direction**. Projecting other words on it shows how the corpus used them, including its
# stereotypes (Bolukbasi et al., 2016): the vectors learn what the text says, biases included.

# %%
gender = direction(gv, [("he", "she"), ("man", "woman"), ("king", "queen"), ("boy", "girl"),
                        ("father", "mother")])
probe = ["actress", "mother", "nurse", "dancer", "teacher", "doctor", "scientist", "soldier", "engineer",
         "actor"]
along = project(gv, probe, gender)
for word_, value in sorted(along.items(), key=lambda kv: -kv[1]):
    print(f"{word_:10} {value:+.2f}")

# %%
order = sorted(along, key=along.get)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.barh(order, [along[w] for w in order], color=["tab:orange" if along[w] > 0 else "tab:blue" for w in order])
ax.axvline(0, color="black", lw=0.6)
ax.set_xlabel("projection on the he → she direction")
ax.set_title("Words along a gender direction (GloVe 50-d)")
plt.show()

# %% [markdown]
# ## 5. A 2-D picture
#
# Countries and their capitals, projected on their two main directions (PCA of these 16 vectors). An
# arrow goes from each country to its capital: the arrows are roughly parallel, which is what makes
# paris − france + italy land near rome.

# %%
pairs = [("france", "paris"), ("italy", "rome"), ("germany", "berlin"), ("japan", "tokyo"),
         ("russia", "moscow"), ("china", "beijing"), ("spain", "madrid"), ("egypt", "cairo")]
plot_words = [w for pair in pairs for w in pair]
xy = pca_2d(np.stack([gv[w] for w in plot_words]))
fig, ax = plt.subplots(figsize=(7, 5))
for k, (country, capital) in enumerate(pairs):
    (x0, y0), (x1, y1) = xy[2 * k], xy[2 * k + 1]
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color="grey", lw=0.8))
    ax.scatter([x0], [y0], c="tab:blue")
    ax.scatter([x1], [y1], c="tab:red")
    ax.annotate(country, (x0, y0), fontsize=9, color="tab:blue")
    ax.annotate(capital, (x1, y1), fontsize=9, color="tab:red")
ax.set_title("Countries (blue) -> capitals (red), GloVe 50-d, first two principal components")
plt.show()
arrows = np.stack([gv[b] - gv[a] for a, b in pairs])
arrows /= np.linalg.norm(arrows, axis=1, keepdims=True)
mean_arrow_cosine = float((arrows @ arrows.T)[~np.eye(len(pairs), dtype=bool)].mean())
print(f"mean cosine between two country -> capital arrows (all 50 dimensions): {mean_arrow_cosine:.1f}")

# %% [markdown]
# ## 6. The analogy widget
#
# Type three words: A is to B as C is to ?. The widget calls `gptbook.widgets.analogy.analogy_answers`,
# checked here once:

# %%
shown = analogy_answers(gv, "man", "king", "woman")
print([w for w, _ in shown.answers])
missing = refusal(analogy_answers, gv, "man", "kinggg", "woman")
print(missing)

# %% tags=["nbval-ignore-output"]
analogy_widget(gv, "man", "king", "woman")

# %% [markdown]
# Try: *walk, walked, swim*; *good, best, bad*; *japan, yen, russia*; *london, england, moscow*.
#
# ## 7. Why a GPT learns its own embeddings instead
#
# Word vectors like these were the first layer of many models around 2014-2017. A GPT does not use
# them. It starts its token embedding table from random numbers and learns it with everything else,
# because:
#
# * **its tokens are not words.** GPT-2's vocabulary is 50,257 byte-level BPE pieces (chapter 01):
#   `" the"`, `"ing"`, `"Дж"`. There are no GloVe vectors for them, and no unknown words to miss;
# * **one vector per word is too little.** *bank* has one GloVe vector for the river and the money.
#   In a GPT the embedding is only the start: attention (chapter 05) mixes in the context, so the
#   vector of *bank* changes with the sentence;
# * **the goal is different.** word2vec's vectors are trained to predict neighbours in a small window;
#   a GPT's are trained, end to end, for exactly its own job: predicting the next token from a long
#   context. The embedding table is one more set of weights that gradient descent adjusts;
# * **it costs little.** The table is a small part of a large model (GPT-2 small: 38.6 million of its
#   124 million weights), and the same matrix is reused to turn vectors back into token scores.
#
# What carries over is the idea this chapter showed: a token is a learned vector, and similar use
# leads to similar vectors.
#
# ## Checks

# %%
assert sorted(package) == sorted(by_hand)
assert torch.allclose(loss_by_hand, sg.loss(centre, neighbour, negatives))
assert 5000 < len(wv) < 15000
assert np.mean(result.losses[-20:]) < np.mean(result.losses[:20]) - 0.5
# neighbour sets a correct word2vec reliably finds with this seed (not exact lists)
assert len({"art", "dost", "hast", "wilt", "canst", "shalt", "wert", "thee", "thyself", "wouldst", "didst",
            "hadst"}
           & set(shakespeare_neighbours["thou"])) >= 3
assert len({"one", "three", "four", "five", "six", "seven", "eight", "ten", "twelve", "twenty", "hundred",
            "thousand", "forty", "dozen"}
           & set(shakespeare_neighbours["two"])) >= 3
assert {"tuesday", "wednesday", "thursday"} & set(shakespeare_neighbours["monday"])
assert ({"england", "dauphin", "burgundy", "normandy", "alencon", "bourbon", "french", "reignier"}
        & set(shakespeare_neighbours["france"]))
assert king_queen == "queen" and paris_rome == "rome"
assert len(questions) == 44 and table["all"][0] >= 30, table
assert along["actress"] > 0 > along["actor"]
assert mean_arrow_cosine > 0.3
assert shown.answers[0][0] == "queen" and "'kinggg' is not in the vocabulary" in missing
