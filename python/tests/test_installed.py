"""Run by ``make wheel-test`` inside a venv the wheel was installed into
(``pip install --no-index``): the package and its binary come from the
wheel, nothing from the source tree. Elsewhere these tests skip."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import unittest

import lessllm

IN_WHEEL_VENV = os.environ.get("LESSLLM_EXPECT_WHEEL") == "1"


@unittest.skipUnless(IN_WHEEL_VENV, "only inside the venv of make wheel-test")
class TestInstalledWheel(unittest.TestCase):
    def test_package_and_binary_come_from_the_wheel(self) -> None:
        site = sysconfig.get_paths()["platlib"]
        self.assertTrue(lessllm.__file__.startswith(site), lessllm.__file__)
        self.assertNotIn("LESSLLM_BIN", os.environ)
        self.assertEqual(lessllm.find_binary(), os.path.join(os.path.dirname(lessllm.__file__), "bin", "lessllm"))
        self.assertNotEqual(lessllm.__version__, "0+unknown")

    def test_console_script_runs_the_binary(self) -> None:
        script = os.path.join(os.path.dirname(sys.executable), "lessllm")
        out = subprocess.run([script, "version"], capture_output=True, text=True, check=True).stdout
        self.assertTrue(out.startswith(f"lessllm {lessllm.__version__} "), out)
        self.assertTrue(os.path.isfile(os.path.join(os.path.dirname(lessllm.__file__), "py.typed")))


if __name__ == "__main__":
    unittest.main()
