"""Drives a Trellis relay's workflows-as-agents endpoint with the official a2a-sdk client.

Usage: python a2a_client.py BASE TOKEN NO_RUN_TOKEN
BASE is the relay (http://127.0.0.1:PORT). Workflows used (published by the test):
"agent-echo" (echo nodes, input topic), "agent-slow" (sleeps), "agent-gate" (a human gate
its starter may approve). Prints one JSON object with what it saw; the Swift test checks
it against the database.
"""
import asyncio
import json
import sys
import uuid

import httpx

from a2a.client import ClientConfig, create_client
from a2a.client.card_resolver import A2ACardResolver
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import CancelTaskRequest, GetTaskRequest, Message, Part, Role, SendMessageConfiguration, SendMessageRequest
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Value

BASE, TOKEN, NO_RUN = sys.argv[1], sys.argv[2], sys.argv[3]


def agent(workflow):
    return f"{BASE}/v1/a2a/{workflow}"


async def client(workflow, token, streaming=True):
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return await create_client(agent(workflow), client_config=ClientConfig(streaming=streaming, httpx_client=http))


def data_message(fields, text=None, task_id=None, context_id=None):
    parts = []
    if fields is not None:
        value = Value()
        value.struct_value.update(fields)
        parts.append(Part(data=value))
    if text is not None:
        parts.append(Part(text=text))
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=parts,
                   task_id=task_id or "", context_id=context_id or "")


async def collect(stream):
    seen = []
    async for response in stream:
        seen.append(MessageToDict(response))
    return seen


async def main():
    report = {}
    # Discover: the card, with the token.
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        card = await A2ACardResolver(http, agent("agent-echo")).get_agent_card()
    report["card"] = MessageToDict(card)

    # Stream a run to completion.
    echo = await client("agent-echo", TOKEN)
    report["stream"] = await collect(echo.send_message(SendMessageRequest(
        message=data_message({"topic": "agents"}, text="hello", context_id="ctx-1"))))

    # Not streamed: SendMessage waits for the end (blocking).
    plain = await client("agent-echo", TOKEN, streaming=False)
    report["blocking"] = await collect(plain.send_message(SendMessageRequest(message=data_message({"topic": "plain"}))))

    # Cancel another run: returnImmediately, then CancelTask, then GetTask.
    slow = await client("agent-slow", TOKEN, streaming=False)
    started = await collect(slow.send_message(SendMessageRequest(
        message=data_message(None, text="nap"), configuration=SendMessageConfiguration(return_immediately=True))))
    task_id = started[0]["task"]["id"]
    report["slow_started"] = started[0]["task"]["status"]["state"]
    report["cancelled"] = MessageToDict(await slow.cancel_task(CancelTaskRequest(id=task_id)))
    report["cancelled_get"] = MessageToDict(await slow.get_task(GetTaskRequest(id=task_id)))
    try:
        await slow.cancel_task(CancelTaskRequest(id=task_id))
        report["cancel_again"] = "accepted"
    except Exception as error:  # noqa: BLE001
        report["cancel_again"] = f"{type(error).__name__}: {error}"
    try:
        await slow.get_task(GetTaskRequest(id=str(uuid.uuid4())))
        report["unknown_task"] = "found"
    except Exception as error:  # noqa: BLE001
        report["unknown_task"] = f"{type(error).__name__}: {error}"

    # A gate: the stream stops at input-required; the answer is a follow-up on the task.
    gate = await client("agent-gate", TOKEN)
    first = await collect(gate.send_message(SendMessageRequest(message=data_message({"topic": "gated"}))))
    report["gate_first"] = first
    gate_task = first[0]["task"]["id"]
    report["gate_answer"] = await collect(gate.send_message(SendMessageRequest(
        message=data_message(None, text="ship it", task_id=gate_task))))

    # A token without `run` on the workflows: no card, no call.
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {NO_RUN}"}) as http:
        try:
            await A2ACardResolver(http, agent("agent-echo")).get_agent_card()
            report["no_run_card"] = "served"
        except Exception as error:  # noqa: BLE001
            report["no_run_card"] = f"{type(error).__name__}: {error}"
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {NO_RUN}"}, timeout=60)
    from a2a.client import ClientFactory
    outsider = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
    try:
        await collect(outsider.send_message(SendMessageRequest(message=data_message({"topic": "nope"}))))
        report["no_run_send"] = "started"
    except Exception as error:  # noqa: BLE001
        report["no_run_send"] = f"{type(error).__name__}: {error}"
    print(json.dumps(report))


asyncio.run(main())
