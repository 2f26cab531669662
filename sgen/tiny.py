"""Tiny random-initialised models with tokenizers trained in-process: real transformers models, no files, no hub.

They run the same code paths as the bundled models in seconds, for tests, benchmarks of framework overhead, and
dry runs of a sweep before it spends real teacher queries.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_CORPUS = [
    "the service was great and i love it", "this is the worst day ever, so angry",
    "the meeting is at noon on monday", "what a wonderful surprise, thank you",
    "my card has not arrived yet", "how do i change my pin", "the train was late again, terrible",
    "negative neutral positive", "rewrite this text with the same meaning", "write a new example labeled",
    "classify the text into one of the labels", "answer with the label only", "question answer reasoning",
    "0 1 2 3 4 5 6 7 8 9 + - * / = ####", "if she has 3 apples and buys 2 more, she has 5 apples",
]


@lru_cache(maxsize=8)
def tiny_tokenizer(kind: str = "word", vocab_size: int = 384, extra_words: tuple[str, ...] = ()) -> PreTrainedTokenizerFast:
    """A word-level (causal LMs) or WordPiece (encoders) tokenizer built from a small built-in corpus."""
    corpus = _CORPUS + [" ".join(extra_words)]
    if kind == "word":
        # Whole words as tokens: a random model then emits readable word salad, and label words are single tokens.
        specials = ["<|pad|>", "<|unk|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]
        words = sorted({w for line in corpus for w in pre_tokenizers.Whitespace().pre_tokenize_str(line)
                        for w in [w[0].lower()]})
        vocab = {tok: i for i, tok in enumerate(specials + words[: max(vocab_size - len(specials), 0)])}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="<|unk|>"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.add_special_tokens(specials)
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", unk_token="<|unk|>",
                                       eos_token="<|end|>")
        fast.chat_template = CHAT_TEMPLATE
        return fast
    if kind == "wordpiece":
        # The vocabulary is built, not trained: a trained WordPiece orders tied merges differently from one process
        # to the next, and then two runs of the same config would not train the same student.
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        words = sorted({w[0].lower() for line in corpus for w in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(line)})
        chars = sorted({c for w in words for c in w})
        pieces = specials + chars + [f"##{c}" for c in chars] + [w for w in words if len(w) > 1]
        tok = Tokenizer(models.WordPiece({p: i for i, p in enumerate(pieces[:vocab_size])}, unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
        return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                       cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    raise ValueError(f"unknown tokenizer kind {kind!r}; valid: word, wordpiece")


def tiny_causal_lm(arch: str = "llama", hidden_size: int = 32, layers: int = 2, seed: int = 0,
                   extra_words: tuple[str, ...] = ()):
    """(model, tokenizer) for a random causal LM of the given family: llama or gpt2."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer("word", extra_words=tuple(extra_words))
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
               bos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    if arch == "llama":
        config = LlamaConfig(hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=layers,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, **ids)
        return LlamaForCausalLM(config), tokenizer
    if arch == "gpt2":
        config = GPT2Config(n_embd=hidden_size, n_layer=layers, n_head=4, n_positions=1024, **ids)
        return GPT2LMHeadModel(config), tokenizer
    raise ValueError(f"unknown tiny causal LM arch {arch!r}; valid: llama, gpt2")


def tiny_encoder(hidden_size: int = 32, layers: int = 2, seed: int = 0):
    """(model, tokenizer) for a random BERT encoder, the shape of all-MiniLM-L6-v2 in miniature."""
    from transformers import BertConfig, BertModel

    tokenizer = tiny_tokenizer("wordpiece")
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=layers,
                        num_attention_heads=4, intermediate_size=2 * hidden_size, max_position_embeddings=512,
                        pad_token_id=tokenizer.pad_token_id)
    return BertModel(config), tokenizer


def tiny_seq2seq(hidden_size: int = 32, layers: int = 2, seed: int = 0, extra_words: tuple[str, ...] = ()):
    """(model, tokenizer) for a random T5 encoder-decoder; the word-level tokenizer supplies pad (also the
    decoder start token, as in T5) and eos."""
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = tiny_tokenizer("word", extra_words=tuple(extra_words))
    torch.manual_seed(seed)
    config = T5Config(vocab_size=len(tokenizer), d_model=hidden_size, d_kv=hidden_size // 4, d_ff=2 * hidden_size,
                      num_layers=layers, num_decoder_layers=layers, num_heads=4, dropout_rate=0.0,
                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    return T5ForConditionalGeneration(config), tokenizer
