"""Engine family name -> agent."""

from __future__ import annotations

from functools import cache

from agents.base import EngineAgent
from agents.mysql.agent import MysqlAgent
from agents.postgres.agent import PostgresAgent


@cache
def agent_for(family: str) -> EngineAgent:
    agents: dict[str, type[EngineAgent]] = {"postgresql": PostgresAgent, "mysql": MysqlAgent}
    try:
        return agents[family]()
    except KeyError:
        raise ValueError(f"no agent for engine family {family!r}") from None
