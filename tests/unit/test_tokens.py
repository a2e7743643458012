"""Browser secrets: 256-bit URL-safe tokens, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.tokens import TOKEN_BYTES, looks_like_token, new_id, new_token, token_hash

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_tokens_carry_256_bits():
    assert TOKEN_BYTES * 8 == 256


def test_a_new_token_is_43_url_safe_characters():
    token = new_token()
    assert len(token) == 43
    assert URL_SAFE.fullmatch(token)
    assert "=" not in token


def test_a_new_token_decodes_to_32_random_bytes():
    import base64

    assert len(base64.urlsafe_b64decode(new_token() + "=")) == 32


def test_new_tokens_are_unique():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000


def test_a_new_token_looks_like_a_token():
    for _ in range(200):
        assert looks_like_token(new_token())


def test_token_hash_is_the_sha256_hex_digest():
    token = new_token()
    digest = token_hash(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_token_hash_is_stable_and_never_the_token_itself():
    token = new_token()
    assert token_hash(token) == token_hash(token)
    assert token not in token_hash(token)


def test_token_hash_differs_for_different_tokens():
    a, b = new_token(), new_token()
    assert token_hash(a) != token_hash(b)


def test_token_hash_of_a_known_value():
    assert token_hash("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_token_hash_copes_with_lone_surrogates():
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash("\ud800"))


@given(st.text(), st.text())
def test_distinct_strings_hash_differently(a, b):
    if a != b:
        assert token_hash(a) != token_hash(b)


def test_a_new_id_is_short_url_safe_and_unique():
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 12 and URL_SAFE.fullmatch(i) for i in ids)


# --- looks_like_token --------------------------------------------------------------------

GOOD = "A" * 21 + "-_" + "z9" * 10


def test_a_43_character_url_safe_string_looks_like_a_token():
    assert len(GOOD) == 43
    assert looks_like_token(GOOD)


@pytest.mark.parametrize(
    "token",
    [
        "",
        GOOD[:-1],  # truncated
        GOOD[:20],
        GOOD + "=",  # padded
        GOOD + "A",
        GOOD[:-1] + "=",
        " " + GOOD[1:],
        GOOD[:-1] + " ",
        GOOD[:-1] + "\n",
        GOOD[:-1] + "+",  # standard (not URL-safe) base64
        GOOD[:-1] + "/",
        GOOD[:-1] + ".",
        GOOD[:-1] + "%",
        "<script>alert(1)</script>" + "A" * 18,
    ],
)
def test_truncated_padded_or_odd_tokens_are_refused(token):
    assert not looks_like_token(token)


@pytest.mark.parametrize("odd", ["é", "ß", "Ω", "٣", "²", "ｚ"])
def test_non_ascii_letters_and_digits_do_not_look_like_a_token(odd):
    # A token's alphabet is A-Z a-z 0-9 - _; str.isalnum() also accepts "é", "٣", "ｚ"...
    assert not looks_like_token(GOOD[:-1] + odd)


@given(st.text(TOKEN_ALPHABET, min_size=43, max_size=43))
def test_any_43_characters_of_the_token_alphabet_look_like_a_token(token):
    assert looks_like_token(token)


ascii_printable = st.characters(min_codepoint=32, max_codepoint=126)


@given(st.text(ascii_printable, min_size=43, max_size=43) | st.text(ascii_printable, max_size=60))
def test_any_ascii_string_that_looks_like_a_token_uses_only_the_token_alphabet(token):
    if looks_like_token(token):
        assert len(token) == 43
        assert all(c in TOKEN_ALPHABET for c in token)


def test_derived_tokens_are_256_bit_repeatable_and_distinct_per_generation():
    from chalicelib.domain.tokens import portal_token

    first = portal_token(b"secret", "t1", "c1", 1)
    assert first == portal_token(b"secret", "t1", "c1", 1)  # shown again any time
    assert looks_like_token(first)
    others = {
        portal_token(b"secret", "t1", "c1", 2),
        portal_token(b"secret", "t1", "c2", 1),
        portal_token(b"secret", "t2", "c1", 1),
        portal_token(b"other secret", "t1", "c1", 1),
    }
    assert first not in others and len(others) == 4
