"""Load every fixture module under tests/python/fixtures/, so each area keeps its fixtures apart."""
import pathlib

_FIXTURES = pathlib.Path(__file__).parent / "fixtures"

pytest_plugins = sorted(
    "fixtures." + path.stem for path in _FIXTURES.glob("*.py") if path.stem != "__init__"
)
