"""Build WMCore.zip, the WMCore libraries that worker nodes import stage-out and report code from.

The zip is made from the WMCore installed next to this package (wmcore 2.4.5.9), so the
worker runs exactly the version the submit host tested with. It contains the top-level packages that
WMCore's stage-out and job report modules import: WMCore, Utils and PSetTweaks. WMCore also imports
`future`; worker nodes take that from the COMP py3-future package, so it is not bundled.
"""

import importlib.util
import os
import pathlib
import tempfile
import zipfile

BUNDLED_PACKAGES = ("WMCore", "Utils", "PSetTweaks")


class WMCoreNotInstalled(RuntimeError):
    """The installed WMCore, or one of the packages bundled with it, was not found."""


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise WMCoreNotInstalled(
            "Python package %r not found; install WMCore with "
            "`pip install --no-deps -r requirements-nodeps.txt`" % name
        )
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def build_wmcore_zip(destination):
    """Write WMCore.zip to `destination` atomically and return its path."""
    destination = pathlib.Path(destination)
    sources = {name: _package_dir(name) for name in BUNDLED_PACKAGES}
    fd, partial = tempfile.mkstemp(prefix=".WMCore.", suffix=".zip", dir=destination.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for name, package_dir in sources.items():
                for path in sorted(package_dir.rglob("*.py")):
                    if "__pycache__" in path.parts:
                        continue
                    bundle.write(
                        path, arcname=str(pathlib.PurePosixPath(name) / path.relative_to(package_dir))
                    )
        os.chmod(partial, 0o644)
        os.replace(partial, destination)
    except BaseException:
        os.unlink(partial)
        raise
    return destination
