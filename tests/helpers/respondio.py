"""The respond.io emulator as the client tests see it."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.respondio import RespondioEmulator


@dataclass
class RespondioServer:
    state: RespondioEmulator
    url: str

    @property
    def base_url(self) -> str:
        return self.url + "/v2"
