"""A real A2A 1.0 agent built with the official a2a-sdk, for the `a2a` handler's tests.

Usage: python echo_agent.py PORT [--no-streaming]
It answers the text it is sent: "slow ..." works for 30 s (for cancel; a cancelled task
prints "cancelled <task id>"), "file ..." answers with a file part of bytes, anything else
gets two working updates, an artifact named "answer" holding the upper-cased text, and
completes. "ask ..." asks "Which colour?" (input-required); the follow-up's text is the
answer, and the artifact holds "<first text> -> <answer>" upper-cased. It prints "listening" once it accepts connections.
"""
import asyncio
import sys

import uvicorn
from starlette.applications import Starlette

from a2a.helpers.proto_helpers import new_task_from_user_message, new_text_message, new_text_part
from a2a.server.agent_execution.agent_executor import AgentExecutor
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes.agent_card_routes import create_agent_card_routes
from a2a.server.routes.jsonrpc_routes import create_jsonrpc_routes
from a2a.server.tasks.inmemory_task_store import InMemoryTaskStore
from a2a.server.tasks.task_updater import TaskUpdater
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, Part, TaskState

PORT = int(sys.argv[1])
STREAMING = "--no-streaming" not in sys.argv


class EchoExecutor(AgentExecutor):
    async def execute(self, context, event_queue):
        task = context.current_task or new_task_from_user_message(context.message)
        if context.current_task is None:
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        text = context.get_user_input()
        if context.current_task is not None and context.current_task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
            first = context.current_task.history[0].parts[0].text if context.current_task.history else "?"
            await updater.start_work(new_text_message(f"got the answer {text}", context_id=task.context_id, task_id=task.id))
            await updater.add_artifact([new_text_part(f"{first} -> {text}".upper())], name="answer")
            await updater.complete()
            return
        if text.startswith("ask"):
            await updater.start_work(new_text_message("reading the request", context_id=task.context_id, task_id=task.id))
            await updater.requires_input(new_text_message("Which colour?", context_id=task.context_id, task_id=task.id))
            return
        await updater.start_work(new_text_message("reading the request", context_id=task.context_id, task_id=task.id))
        if text.startswith("slow"):
            for _ in range(300):
                await asyncio.sleep(0.1)
        await updater.update_status(TaskState.TASK_STATE_WORKING,
                                    new_text_message("writing the answer", context_id=task.context_id, task_id=task.id))
        if text.startswith("file"):
            await updater.add_artifact([Part(raw=b"line one\nline two\n", filename="report.txt", media_type="text/plain")], name="report")
        else:
            await updater.add_artifact([new_text_part(text.upper())], name="answer")
        await updater.complete()

    async def cancel(self, context, event_queue):
        task = context.current_task
        print(f"cancelled {task.id}", flush=True)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.cancel()


card = AgentCard(
    name="echo-agent",
    description="Upper-cases what it is sent.",
    version="1.0.0",
    supported_interfaces=[AgentInterface(url=f"http://127.0.0.1:{PORT}/a2a", protocol_binding="JSONRPC", protocol_version="1.0")],
    capabilities=AgentCapabilities(streaming=STREAMING),
    default_input_modes=["text/plain"],
    default_output_modes=["text/plain"],
    skills=[AgentSkill(id="echo", name="echo", description="Upper-cases text", tags=["test"])],
)
handler = DefaultRequestHandler(agent_executor=EchoExecutor(), task_store=InMemoryTaskStore(), agent_card=card)
app = Starlette(routes=create_agent_card_routes(card) + create_jsonrpc_routes(handler, "/a2a"))

if __name__ == "__main__":
    config = uvicorn.Config(app, host="127.0.0.1", port=PORT, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    print("listening", flush=True)
    server.run()
