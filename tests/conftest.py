import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def cpu():
    from bench.profiles import get_profile

    return get_profile("cpu")
