"""The delivery engine: streamed replies by edit (or a native stream), rate budgets per declared
limit and scope, safe rollover of long text, and a final write on every path.
See `engine`, `reply`, `budget`, `budgets` and `splitting` for how each part works."""

from bot.delivery.budget import Priority, RateBudget, scope_key
from bot.delivery.budgets import Budgets
from bot.delivery.engine import Delivery
from bot.delivery.reply import StreamingReply
from bot.delivery.splitting import Part, close_open_fence, cut, split_text

__all__ = [
    "Budgets",
    "Delivery",
    "Part",
    "Priority",
    "RateBudget",
    "StreamingReply",
    "close_open_fence",
    "cut",
    "scope_key",
    "split_text",
]
