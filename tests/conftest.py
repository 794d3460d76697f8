"""Shared test set-up: one CPU thread, as dlexp's runner uses by default, and a wide console so
that rich does not fold the words the tests look for."""

import os

import torch

os.environ["COLUMNS"] = "250"
torch.set_num_threads(1)
