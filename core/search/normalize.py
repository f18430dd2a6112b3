"""Text normalisation for search: one canonical form for catalog text and for what streamers type.

NFKC (full-width → half-width), case folding, traditional → simplified (OpenCC t2s), accents
stripped (L'Oréal → loreal), punctuation dropped; then the text splits into tokens: runs of
Han characters and runs of Latin letters/digits, so `dyson吸尘器` is two tokens. Pinyin helpers
turn Han words into syllables and typed Latin into syllables, both cached per word.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# A streamer's query is a few words; anything longer is cut here before any work is done.
MAX_QUERY_CHARS = 200

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_TOKEN_RE = re.compile(rf"[{_HAN}]+|[a-z0-9]+(?:\.[0-9][a-z0-9]*)*")
_HAN_RE = re.compile(rf"[{_HAN}]")
_ACCENTED_RE = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
# An apostrophe or hyphen inside a Latin word joins it (l'oreal, sk-ii); anywhere else it separates.
_JOINER_RE = re.compile(r"(?<=[a-z])['’\-](?=[a-z])")

# Quantities in one unit each, so 0.5L, 500毫升 and 500ml are one word: volume in ml, mass in g,
# battery capacity in mah (1斤 = 500 g, 1升 = 1 L).
_UNIT_RE = re.compile(
    r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*(毫升|ml(?![a-z])|升|l(?![a-z])|千克|公斤|kg(?![a-z])|克|g(?![a-z])|斤|毫安时|毫安|mah(?![a-z]))"
)
_UNIT_SCALE = {
    "毫升": (1, "ml"), "ml": (1, "ml"), "升": (1000, "ml"), "l": (1000, "ml"),
    "千克": (1000, "g"), "公斤": (1000, "g"), "kg": (1000, "g"), "克": (1, "g"), "g": (1, "g"),
    "斤": (500, "g"), "毫安时": (1, "mah"), "毫安": (1, "mah"), "mah": (1, "mah"),
}  # fmt: skip
_HALF_JIN_RE = re.compile(r"半斤")


def _unit(match: re.Match[str]) -> str:
    scale, unit = _UNIT_SCALE[match.group(2)]
    value = float(match.group(1)) * scale
    number = str(int(value)) if value == int(value) else f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{number}{unit}"


def canonical_units(text: str) -> str:
    """`4升` → 4000ml, `0.5l` → 500ml, `1斤` → 500g, `20000毫安` → 20000mah (normalised text)."""
    if "半斤" in text:
        text = _HALF_JIN_RE.sub("250g", text)
    return _UNIT_RE.sub(_unit, text)


# Toneless pinyin syllables, with ü written v as pypinyin does (lv, nve).
PINYIN_SYLLABLES: frozenset[str] = frozenset(
    """a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang cao
    ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan chuang chui chun
    chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia dian diao die ding diu
    dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fo fou fu ga gai gan gang gao ge gei
    gen geng gong gou gu gua guai guan guang gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua
    huai huan huang hui hun huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang
    kao ke kei ken keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia
    lian liang liao lie lin ling liu lo long lou lu luan lun luo lv lve ma mai man mang mao me mei men meng
    mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne nei nen neng ni nian niang niao nie nin
    ning niu nong nou nu nuan nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping
    po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong
    rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng
    shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao
    te teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wu xi xia
    xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you yu
    yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong
    zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo""".split()
)
# What people type for ü when they do not know the v convention.
_SYLLABLE_ALIASES = {"lue": "lve", "nue": "nve"}
_MAX_SYLLABLE = 6
_VOWELS = frozenset("aeiouv")


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # the C++ binding; loaded on first use so importing this module stays cheap

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _jieba():
    """jieba's tokenizer with its dictionary (words and their frequencies), loaded on first use."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def warm_up() -> None:
    """Load OpenCC, pypinyin and jieba now (seconds, once per process) rather than on a user's query."""
    _t2s()
    han_pinyin("预热")
    _jieba()


def segment(han: str) -> list[str]:
    """A Han run as dictionary words (我想找一款防晒霜 → 我 想 找 一款 防晒霜); unknown words by character."""
    return _jieba().lcut(han, HMM=False)


def word_frequency(word: str) -> int:
    """How often `word` occurs in jieba's reference corpus (0 if it is not a dictionary word)."""
    return int(_jieba().FREQ.get(word) or 0)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def normalize(text: str) -> str:
    """The canonical form: NFKC, case-folded, simplified, accents and word-inner apostrophes removed,
    quantities in one unit each (`canonical_units`)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        if _HAN_RE.search(text):
            text = _t2s().convert(text)
        if _ACCENTED_RE.search(text):
            text = _strip_accents(text)
    if "'" in text or "’" in text or "-" in text:
        text = _JOINER_RE.sub("", text)
    if any(c.isdigit() for c in text) or "半斤" in text:
        text = canonical_units(text)
    return text


def tokens(normalized: str) -> list[str]:
    """Han runs and Latin/digit runs of already normalised text, in order."""
    return _TOKEN_RE.findall(normalized)


def tokenize(text: str) -> list[str]:
    """`normalize` then `tokens`."""
    return _TOKEN_RE.findall(normalize(text))


def is_han(token: str) -> bool:
    return not token[0].isascii()


def _no_pinyin(chars: str) -> Any:
    return ["?"] * len(chars)  # one placeholder per character without a reading


@lru_cache(maxsize=200_000)
def han_pinyin(word: str) -> tuple[str, ...]:
    """Toneless pinyin of a Han word, one syllable per character, read in context (长城 → chang cheng)."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(word, style=Style.NORMAL, errors=_no_pinyin)
    if len(syllables) != len(word):  # defensive: keep one syllable per character
        syllables = [lazy_pinyin(ch, style=Style.NORMAL, errors=_no_pinyin)[0] for ch in word]
    return tuple(s if s.isascii() and s.isalpha() else "?" for s in syllables)


@lru_cache(maxsize=50_000)
def split_pinyin(latin: str) -> tuple[str, ...] | None:
    """Typed Latin as pinyin syllables (`yagao` → ya gao), fewest syllables first; None if not pinyin."""
    n = len(latin)
    if n == 0 or n > 48 or not latin.isalpha():
        return None
    # best[i]: the shortest syllable split of latin[:i]
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[0] = ()
    for i in range(n):
        head = best[i]
        if head is None:
            continue
        for j in range(i + 1, min(n, i + _MAX_SYLLABLE) + 1):
            piece = latin[i:j]
            piece = _SYLLABLE_ALIASES.get(piece, piece)
            if piece in PINYIN_SYLLABLES:
                cand = head + (piece,)
                cur = best[j]
                if cur is None or len(cand) < len(cur):
                    best[j] = cand
    return best[n]


def looks_like_initials(latin: str) -> bool:
    """`ynby`, `dsxcq`: letters with hardly any vowels, as streamers type pinyin initials."""
    if not (2 <= len(latin) <= 16) or not latin.isalpha():
        return False
    vowels = sum(1 for c in latin if c in _VOWELS)
    return vowels <= max(1, len(latin) // 4)


def pinyin_key(text: str) -> str:
    """Normalised text as one Latin run, Han words spelled in toneless pinyin (戴森 → daisen)."""
    out: list[str] = []
    for tok in tokens(text):
        out.extend(han_pinyin(tok) if is_han(tok) else (tok,))
    return "".join(out)
