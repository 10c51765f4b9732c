"""The sample generator of bench/lint_gitleaks_rules_bench.py, alone: a generated string matches its rule, the
secret group has the shape the regex asks for, Go RE2 syntax is translated, checksums are valid, and a regex the
generator cannot translate or satisfy is skipped (NotGenerated) rather than crashing. Pure functions over regexes
written here (not gitleaks' config): needs no gitleaks binary and runs no tool."""

from __future__ import annotations

import random
import re
import secrets
import string

import pytest

from bench.lint_gitleaks_rules_bench import (
    SECRET_CHARS,
    NotGenerated,
    Rule,
    false_values,
    generate,
    shannon_entropy,
    translate,
)
from sealer.lint.detectors import github_checksum

# a keyword rule shaped like gitleaks' own (identifier context, then the token in group 1)
KEYWORD_RULE = Rule("acme-api-key",
                    r"(?i)[\w.-]{0,50}?(?:acme)(?:[ \t\w.-]{0,20})[\s'" + '"' + r"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)"
                    r"[\x60'" + '"' + r"\s=]{0,5}([a-f0-9]{32})(?:[\x60'" + '"' + r"\s;]|\\[nr]|$)",
                    keywords=("acme",), entropy=3.0)


def rng() -> random.Random:
    return random.Random(secrets.randbits(64))


def test_keyword_rule_gives_a_random_secret_in_group_one_and_the_keyword_as_identifier() -> None:
    seen = set()
    for _ in range(5):
        s = generate(KEYWORD_RULE, rng())
        m = re.search(translate(KEYWORD_RULE.regex), s.match, re.ASCII)
        assert m is not None and m.group(1) == s.secret
        assert re.fullmatch(r"[a-f0-9]{32}", s.secret)
        assert shannon_entropy(s.secret) > 3.0
        assert s.identifier == "acme"
        assert len(s.random_slots) == 32
        seen.add(s.secret)
    assert len(seen) == 5  # random, not a fixed example


def test_prefixed_token_without_context_uses_the_whole_match_and_the_rule_id() -> None:
    rule = Rule("widget-token", r"\b(wdg_[A-Z2-7]{20,24})(?:[\x60'" + '"' + r"\s;]|\\[nr]|$)", keywords=("wdg_",))
    lengths = set()
    for _ in range(30):
        s = generate(rule, rng())
        assert re.fullmatch(r"wdg_[A-Z2-7]{20,24}", s.secret), "literal prefix kept, class and length respected"
        assert s.identifier == "widget"
        lengths.add(len(s.secret))
    assert len(lengths) > 1  # lengths drawn, not the minimum


def test_go_syntax_is_translated() -> None:
    assert translate(r"abc\z") == r"abc\Z"
    assert translate(r"zz_(?i)[a-z]{4}|yy") == r"zz_(?i:[a-z]{4})|(?i:yy)"
    assert translate(r"(a(?i)b|c)d") == r"(a(?i:b)|(?i:c))d"
    assert translate(r"(?i)x") == r"(?i)x"
    assert translate(r"pat[[:alnum:]]{4}") == r"pat[0-9A-Za-z]{4}"
    s = generate(Rule("posix", r"\b(pat[[:alnum:]]{14}\.[a-f0-9]{8})\b"), rng())
    assert re.fullmatch(r"pat[0-9A-Za-z]{14}\.[a-f0-9]{8}", s.secret)


def test_mid_pattern_case_flag_widens_only_the_body() -> None:
    rule = Rule("mixed", r"mx_(?i)[a-z]{40}")
    s = generate(rule, rng())
    assert s.secret.startswith("mx_")
    assert any(c.isupper() for c in s.secret[3:]) and any(c.islower() for c in s.secret[3:])
    plain = generate(Rule("lower", r"(?i)\b(lw_[a-z]{40})\b"), rng())
    assert plain.secret[3:].islower(), "a leading (?i) is for the keyword: the class is drawn as written"


def test_github_tokens_carry_a_valid_checksum() -> None:
    rule = Rule("github-pat", "gh" + r"p_[0-9a-zA-Z]{36}", entropy=3.0)
    for _ in range(5):
        token = generate(rule, rng()).secret
        assert token[-6:] == github_checksum(token[4:34])


def test_false_variants_keep_literals_and_replace_the_random_part() -> None:
    s = generate(Rule("acme-key", r"\b(acme_[a-f0-9]{16})\b"), rng())
    assert s.filler() == "acme_" + "x" * 16
    assert s.sequential() == "acme_abcdef0123456789"[:5 + 16]


def test_secrets_need_no_escaping_in_any_shape() -> None:
    s = generate(Rule("anything", r"\b(any_[\S]{30})"), rng())
    assert set(s.secret) <= SECRET_CHARS


@pytest.mark.parametrize("regex, entropy", [
    (r"\p{Greek}+", 0.0),         # unicode classes: no Python equivalent
    (r"(?U)a+", 0.0),             # RE2's ungreedy flag
    (r"[[:nonsense:]]+", 0.0),    # unknown POSIX class
    (r"(a{20})", 3.0),            # entropy threshold no sample can beat
    (r"x(?=y)", 0.0),             # valid in Python, not RE2: refused, not mis-generated
    (r"(\$\{[A-Z]{4}\})", 0.0),   # the secret would need escaping in a shape
])
def test_unusable_rules_are_skipped_not_crashed(regex: str, entropy: float) -> None:
    with pytest.raises(NotGenerated):
        generate(Rule("bad", regex, entropy=entropy), rng(), attempts=5)


def test_random_part_is_uniform_over_the_class() -> None:
    s = "".join(generate(Rule("hex", r"\b(h_[0-9a-f]{64})\b"), rng()).secret[2:] for _ in range(20))
    assert set(s) == set(string.hexdigits.lower())


def test_a_fixed_string_rule_gets_no_false_variant_equal_to_itself() -> None:
    fixed = generate(Rule("fixed", r"cafe-prefix-Zm9vYmFy"), rng())
    assert fixed.random_slots == ()
    assert set(false_values("cafe", fixed)) == {"env-ref", "placeholder"}
    varied = generate(Rule("varied", r"\b(cafe_[a-z]{12})\b"), rng())
    assert set(false_values("cafe", varied)) == {"env-ref", "placeholder", "filler", "sequential"}
