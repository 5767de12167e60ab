"""The floor plan's layout rules (kiosk_ui/views.py): where an area's label goes beside its hazard badge."""
from __future__ import annotations

import pytest

from kiosk_ui.views import BADGE_CLEAR, label_width, label_y


@pytest.mark.parametrize("left,right,text,below", [
    (60, 260, "中控室", True),            # the demo's narrow control room: 120 wide, centred at 160 → under ⚠
    (60, 260, "Control room", True),
    (180, 560, "储罐区", False),           # a wide area: the label stays on the top edge
    (180, 560, "Tank farm", False),
    (0, 2 * (BADGE_CLEAR + 60), "中控室", False),   # exactly clear of the badge: stays on top
    (0, 2 * (BADGE_CLEAR + 60) - 1, "中控室", True),  # one unit less: below
])
def test_a_label_moves_below_the_badge_only_where_it_would_run_under_it(left, right, text, below):
    top = 100
    assert label_y(left, right, top, text) == (top + 44 + 64 if below else top + 44)


def test_label_width_counts_cjk_as_square_and_latin_as_half():
    assert label_width("中控室") == 120
    assert label_width("Gate") == pytest.approx(4 * 40 * 0.56)
