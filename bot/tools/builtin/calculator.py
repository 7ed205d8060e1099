"""`calculator`: safe arithmetic through an `ast` whitelist.

Only numbers, + - * / // % **, unary ±, parentheses, a few constants (pi, e, tau) and a few
functions from `math` are accepted; names, attributes, subscripts, comprehensions, lambdas and
every other node are refused before evaluation. Sizes are bounded: the expression length, the
number of nodes, the exponent of `**`, and the bit length of every intermediate integer.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from bot.tools.registry import Risk, Tool, ToolContext

MAX_CHARS = 500
MAX_NODES = 200
MAX_EXPONENT = 1_000
MAX_INT_BITS = 4_096

Number = int | float
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_CONSTANTS: Mapping[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "exp": math.exp,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
}


class CalcError(ValueError):
    """The expression is not allowed or cannot be evaluated."""


def evaluate(expression: str) -> Number:
    if len(expression) > MAX_CHARS:
        raise CalcError(f"expression longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise CalcError(f"not a valid expression ({exc.msg})") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"expression has more than {MAX_NODES} parts")
    try:
        return _eval(tree.body)
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except OverflowError:
        raise CalcError("result too large") from None
    except (ValueError, TypeError) as exc:
        if isinstance(exc, CalcError):
            raise
        raise CalcError(f"math error: {exc}") from None


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalcError(f"only numbers are allowed, not {node.value!r}")
        return _bounded(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalcError(f"exponent larger than {MAX_EXPONENT}")
        if (
            isinstance(node.op, ast.Pow)
            and isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and left.bit_length() * right > MAX_INT_BITS
        ):
            raise CalcError("result too large")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise CalcError("complex results are not supported")
        return _bounded(result)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _bounded(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise CalcError(f"unknown name {node.id!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise CalcError(f"allowed functions: {', '.join(sorted(_FUNCTIONS))}")
        args = [_eval(a) for a in node.args]
        return _bounded(_FUNCTIONS[node.func.id](*args))
    raise CalcError(f"{type(node).__name__} is not allowed")


def _bounded(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalcError("the result is not a number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalcError("result too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalcError("result too large" if not math.isnan(value) else "not a number")
    return value


def _format(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


async def _run(args: Mapping[str, Any], ctx: ToolContext) -> str:
    expression = str(args["expression"])
    return f"{expression} = {_format(evaluate(expression))}"


def calculator_tool() -> Tool:
    return Tool(
        name="calculator",
        description="Evaluate an arithmetic expression exactly, e.g. '2**10 / (3 + 5)' or "
        "'sqrt(2) * pi'. Supports + - * / // % **, parentheses and common math functions.",
        parameters={
            "type": "object",
            "properties": {
                "expression": {"type": "string", "minLength": 1, "maxLength": MAX_CHARS}
            },
            "required": ["expression"],
            "additionalProperties": False,
        },
        run=_run,
        risk=Risk.READ,
        timeout_s=5.0,
        max_output_chars=2_000,
        status="Calculating…",
    )
