# TEMPORARY (not committed): lets kiosk_ui/views.py run while its pages move; removed once they have.
from appliance.patrol.last_seen import *  # noqa
from appliance.patrol.models import *  # noqa
from appliance.patrol.plans import *  # noqa
from appliance.patrol.review import *  # noqa
from appliance.patrol.rounds import *  # noqa
from appliance.patrol.taps import *  # noqa
from appliance.patrol.plans import get_record as _get  # noqa
