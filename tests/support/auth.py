"""The authorizer as the wiring builds it, from settings checked by load_settings."""

from __future__ import annotations

from typing import Mapping

import requests

from functions.auth import build_authorizer
from functions.ports import Authorizer
from functions.settings import load_settings


def authorizer_from(env: Mapping[str, str]) -> Authorizer:
    return build_authorizer(load_settings(env).auth, requests.Session())
