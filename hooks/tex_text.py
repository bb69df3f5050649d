r"""TeX as readable plain text, for the search index: ``\frac{\partial L}{\partial W}`` -> ``∂L/∂W``.

The search previews show a page's text without its formulas' markup; a formula left out leaves a
hole ("前向算出损失 ，反向算出 对每个参数的梯度"). ``tex_to_text`` writes the formulas of this site
as text a reader can follow: Greek letters and operators as Unicode, ``x_t`` and ``x^2`` with
Unicode sub- and superscripts where every character has one (``_(...)`` / ``^(...)`` otherwise),
fractions as ``a/b`` (parenthesised where needed), ``\hat y`` as ``ŷ``, font and size commands
dropped, alignment marks and line breaks as spaces and ``;``. No backslash, ``$`` or brace is
ever left: an unknown command keeps its name without the backslash.
"""
from __future__ import annotations

import re
import unicodedata

SYMBOLS = {
    # Greek
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ",
    "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "ϕ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ",
    "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    # operators and relations
    "partial": "∂", "nabla": "∇", "sum": "Σ", "prod": "Π", "int": "∫", "odot": "⊙", "otimes": "⊗",
    "oplus": "⊕", "times": "×", "cdot": "·", "circ": "∘", "star": "⋆", "ast": "∗", "pm": "±", "mp": "∓",
    "div": "÷", "approx": "≈", "sim": "∼", "simeq": "≃", "equiv": "≡", "ne": "≠", "neq": "≠", "le": "≤",
    "leq": "≤", "ge": "≥", "geq": "≥", "ll": "≪", "gg": "≫", "in": "∈", "notin": "∉", "subset": "⊂",
    "subseteq": "⊆", "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃", "infty": "∞", "propto": "∝",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "gets": "←", "mapsto": "↦", "Rightarrow": "⇒",
    "Leftarrow": "⇐", "Longrightarrow": "⟹", "Longleftarrow": "⟸", "iff": "⟺", "Leftrightarrow": "⇔",
    "Longleftrightarrow": "⟺", "leftrightarrow": "↔", "uparrow": "↑", "downarrow": "↓",
    "dots": "…", "ldots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱", "ell": "ℓ", "top": "ᵀ",
    "intercal": "ᵀ", "prime": "′", "langle": "⟨", "rangle": "⟩", "lVert": "‖", "rVert": "‖", "Vert": "‖",
    "lvert": "|", "rvert": "|", "vert": "|", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉",
    "mid": "|", "bmod": " mod ", "emptyset": "∅", "neg": "¬", "land": "∧", "lor": "∨", "cdotp": "·",
    # named functions keep their names
    **{f: f for f in ("tanh", "sinh", "cosh", "sin", "cos", "tan", "log", "ln", "exp", "max", "min",
                      "sup", "inf", "lim", "arg", "det", "dim", "sgn", "argmax", "argmin")},
}
SPACES = {",": " ", ";": " ", ":": " ", " ": " ", "quad": " ", "qquad": " ", "!": "", "enspace": " ",
          "thinspace": " "}
DROP = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
        "textstyle", "displaystyle", "scriptstyle", "limits", "nolimits", "middle", "nonumber", "notag"}
ESCAPED = {"{": "{", "}": "}", "#": "#", "_": "_", "%": "%", "&": "&", "$": "$", "|": "‖", "\\": "; "}
STYLE = {"mathrm", "mathbf", "boldsymbol", "bm", "mathit", "mathsf", "mathtt", "text", "textrm", "textbf",
         "textit", "mathrel", "mathop", "mathbin", "operatorname", "mbox", "hbox", "overline", "underline",
         "substack", "underbrace", "overbrace", "mathnormal", "pmb"}
ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303", "bar": "\u0304",
           "vec": "\u20d7", "overrightarrow": "\u20d7", "overleftarrow": "\u20d6", "dot": "\u0307",
           "ddot": "\u0308", "check": "\u030c", "breve": "\u0306", "acute": "\u0301", "grave": "\u0300"}
BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
FRACTIONS = {"frac", "tfrac", "dfrac", "cfrac"}
ONE_ARGUMENT = STYLE | set(ACCENTS) | {"mathbb", "mathcal", "mathfrak", "sqrt"}
# binary operators and relations get a space on each side, as TeX spaces them
SPACED = set("=<>+") | {"×", "≈", "∼", "≃", "≡", "≠", "≤", "≥", "≪", "≫", "∈", "∉", "⊂", "⊆", "→", "←", "↦",
                        "⇒", "⇐", "⟹", "⟸", "⟺", "⇔", "↔", "⊙", "⊗", "⊕", "±", "∓", "÷", "∝"}
ARROWS_WITH_LABEL = {"xrightarrow": "→", "xleftarrow": "←", "xmapsto": "↦"}

SUB = dict(zip("0123456789+-=()aehijklmnoprstuvxβγρφχ−",
               "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ₋"))
SUP = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWβγδθιφχ−ᵀ′",
               "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵝᵞᵟᶿᶥᵠᵡ⁻ᵀ′"))
COMMAND = re.compile(r"\\([A-Za-z]+)\*?|\\(.)", re.S)


class _Reader:
    """A cursor over TeX source that reads one argument (a group, a command or a character)."""

    def __init__(self, tex: str):
        self.s, self.i = tex, 0

    def skip_space(self):
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def group(self) -> str:
        """The raw TeX of the next argument: ``{...}`` without its braces, a command, or one character."""
        self.skip_space()
        if self.i >= len(self.s):
            return ""
        c = self.s[self.i]
        if c == "{":
            depth, start = 0, self.i
            while self.i < len(self.s):
                ch = self.s[self.i]
                if ch == "\\":
                    self.i += 2
                    continue
                depth += ch == "{"
                depth -= ch == "}"
                self.i += 1
                if depth == 0:
                    return self.s[start + 1:self.i - 1]
            return self.s[start + 1:]
        m = COMMAND.match(self.s, self.i)
        if m:
            self.i = m.end()
            if m.group(1) in ONE_ARGUMENT:           # x_\text{in}: the command with its argument
                return m.group(0) + "{" + self.group() + "}"
            return m.group(0)
        self.i += 1
        return c

    def optional(self) -> str:
        """An optional ``[...]`` argument (as in ``\\sqrt[3]{x}``), or ``""``."""
        self.skip_space()
        if self.s.startswith("[", self.i):
            end = self.s.find("]", self.i)
            if end > 0:
                arg, self.i = self.s[self.i + 1:end], end + 1
                return arg
        return ""


def _script(text: str, table: dict, mark: str) -> str:
    text = text.strip()
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    return mark + (text if len(text) == 1 else f"({text})")


def _wrap(text: str) -> str:
    """``text`` in parentheses when it is more than one symbol (for ``a/b``, ``√``)."""
    text = text.strip()
    bare = re.fullmatch(r"[\w.′ᵀ\u0300-\u036f\u20d0-\u20ff₀-₉ₐ-ₜᵢ-ᵪ⁰-⁹ᴬ-ᵡ∂∇]+", text)
    return text if bare or (text.startswith("(") and text.endswith(")")) else f"({text})"


def _convert(tex: str) -> str:
    r = _Reader(tex)
    out = []
    while r.i < len(r.s):
        c = r.s[r.i]
        if c == "\\":
            m = COMMAND.match(r.s, r.i)
            r.i = m.end()
            name, char = m.group(1), m.group(2)
            if name is not None:
                r.skip_space()                              # TeX ignores the spaces after a control word
            if char is not None:
                out.append(SPACES.get(char, ESCAPED.get(char, char)))
            elif name in SYMBOLS:
                symbol = SYMBOLS[name]
                out.append(f" {symbol} " if symbol in SPACED else symbol)
            elif name in SPACES:
                out.append(SPACES[name])
            elif name in DROP:
                pass
            elif name in FRACTIONS:
                num, den = _convert(r.group()), _convert(r.group())
                out.append(f"{_wrap(num)}/{_wrap(den)}")
            elif name == "sqrt":
                index = r.optional()
                out.append(("" if not index else _script(_convert(index), SUP, "^")) + "√" + _wrap(_convert(r.group())))
            elif name in ACCENTS:
                body = _convert(r.group()).strip()
                out.append(body + ACCENTS[name] if len(body) == 1 else body)
            elif name == "mathbb":
                body = _convert(r.group()).strip()
                out.append(BLACKBOARD.get(body, body))
            elif name in ARROWS_WITH_LABEL:
                r.optional()
                label = _convert(r.group()).strip()
                out.append(f" {ARROWS_WITH_LABEL[name]}{'(' + label + ')' if label else ''} ")
            elif name in STYLE or name == "mathcal" or name == "mathfrak":
                out.append(_convert(r.group()))
            elif name in ("begin", "end"):
                r.group()                                   # the environment's name
                if name == "begin" and r.s.startswith("{", r.i):
                    r.group()                               # bmatrix/array column spec, if any
                out.append(" ")
            else:
                out.append(name)                            # unknown: its name, without the backslash
        elif c in "^_":
            r.i += 1
            out.append(_script(_convert(r.group()), SUP if c == "^" else SUB, c))
        elif c in "{}":
            r.i += 1
        elif c == "&":
            r.i += 1
            out.append(" ")
        elif c == "~":
            r.i += 1
            out.append(" ")
        elif c == "'":
            r.i += 1
            out.append("′")
        else:
            r.i += 1
            out.append(c)
    return "".join(out)


DELIMITERS = re.compile(r"^\s*(?:\\\(|\\\[|\$\$|\$)(.*?)(?:\\\)|\\\]|\$\$|\$)\s*$", re.S)


def tex_to_text(tex: str) -> str:
    r"""Readable text for one formula, with or without its delimiters (``\(..\)``, ``\[..\]``, ``$..$``)."""
    m = DELIMITERS.match(tex)
    text = _convert(m.group(1) if m else tex)
    text = re.sub(r"[\s,;]*;[\s,;]*", "; ", text)              # line breaks of aligned/cases
    text = re.sub(r"\s+", " ", text).strip(" ;")
    return unicodedata.normalize("NFC", text.replace("\\", "").replace("$", ""))   # ŷ as one character
