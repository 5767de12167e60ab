"""The pages' Jinja environment: Flask's, with two lookups that templates make thousands of times per page
done without raising an exception each time. Same results as Jinja's own (tests/test_templating.py).

py-spy on the appliance serving the tablet's hazard page (100 hazards, each with its forms) found half of its
rendering in two places (issue 14, bench/load.py: the heavy pages set the web's tail under load):
- `Environment.getattr`: `h.state` on a dict first tries the attribute, which raises AttributeError inside
  Python, then the item. For a plain dict and a name that is not one of dict's own attributes, the attribute
  can never exist, so the item is looked up at once.
- `Context.call`: every `t('…')`, `fmt_time(…)` or `names.get(…)` asks the callable twice whether it wants the
  context passed (`hasattr`, which raises AttributeError inside Python when it does not). A plain function
  without `jinja_pass_arg` in its own dict, or a built-in (which cannot carry one), is called at once.
"""
from __future__ import annotations

import types
from typing import Any

from flask.templating import Environment
from jinja2.runtime import Context

_DICT_NAMES = frozenset(dir(dict))
_BUILTINS = (types.BuiltinFunctionType, types.BuiltinMethodType)


class FastContext(Context):
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's own signature)
        kind = type(__obj)
        if (kind is types.FunctionType and "jinja_pass_arg" not in __obj.__dict__) or kind in _BUILTINS:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.environment.undefined("value was undefined because a callable raised a"
                                                    " StopIteration exception")
        return Context.call(__self, __obj, *args, **kwargs)


class FastEnvironment(Environment):
    context_class = FastContext

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_NAMES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)
