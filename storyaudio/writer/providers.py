"""Where the writer's replies come from: an OpenAI-compatible chat-completions endpoint (OpenAI, Ollama,
vLLM, llama.cpp's server, ...) through the ``openai`` package, or a GGUF file through ``llama-cpp-python``.

Both answer ``complete(messages) -> Reply``. Structured output, strongest first:

* ``json_schema``: ``response_format={"type": "json_schema", "json_schema": {"strict": true, ...}}`` with the
  strict variant of the script schema (OpenAI, recent Ollama, vLLM, llama.cpp server);
* ``json_object``: ``response_format={"type": "json_object"}`` (JSON mode, no schema);
* ``plain``: no response_format; the reply is parsed leniently and validated locally.

An endpoint that rejects a mode (HTTP 400/422 naming response_format, json_schema, ...) moves the client to
the next one for the rest of the exchange.

Faults are :class:`~storyaudio.errors.WriterError` that say what happened: a reply that is not a chat
completion (an HTML page from a proxy or a login portal), no reply within ``timeout`` seconds (not retried:
a hung server stays hung), a connection dropped before the reply, a server that cannot be reached. Rate
limits, server errors and dropped connections are retried twice. Secrets in the endpoint (``user:password@``,
``?key=...``, ``api_key=``, ``token=``) are redacted wherever the endpoint is shown or logged.
"""

from __future__ import annotations

import atexit
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ..errors import WriterError
from ..script import strict_schema

OPENAI_URL = "https://api.openai.com/v1"
#: Model used against api.openai.com when none is named (``STORYAUDIO_WRITER_MODEL`` overrides).
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
#: What local servers get instead of a key: they ignore it, and a real key must not go where it was not meant.
PLACEHOLDER_KEY = "sk-no-key-required"
MODES = ("json_schema", "json_object", "plain")
SCHEMA_NAME = "audio_script"
_FORMAT_WORDS = ("response_format", "response format", "json_schema", "json schema", "json_object",
                 "structured output", "schema", "grammar", "strict")
LOCAL_LLM_HINT = ("pip install 'storyaudio[local-llm]' (llama-cpp-python compiles for about 12 minutes on 2 "
                  "cores; for a portable build run it as CMAKE_ARGS=-DGGML_NATIVE=OFF pip install "
                  "'storyaudio[local-llm]')")


@dataclass
class Reply:
    text: str | None
    model: str
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    mode: str = "plain"
    fallbacks: list[dict] = field(default_factory=list)  # modes the endpoint refused during this call


def _origin(url: str) -> tuple[str, str, int | None]:
    u = urlsplit(url)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme.lower(), (u.hostname or "").lower(), port)


#: Query parameters whose value is a secret (key=, api_key=, api-key=, token=, access_token=, sig=, ...).
_SECRET_PARAM = re.compile(r"key|token|secret|passw|auth|sig|credential", re.IGNORECASE)
#: Chat requests retried after a rate limit, a server error or a dropped connection (never after a timeout).
RETRIES = 2
#: Seconds before the first retry (then doubled each time), unless the server says how long (Retry-After).
RETRY_BASE_SECONDS = 0.5
#: A Retry-After longer than this is not waited for: the error is reported instead.
MAX_RETRY_AFTER = 60.0


def _secret_values(query: str) -> list[str | None]:
    """For each ``&`` part of a query string: its value (as written) when the part is a secret, else None."""
    out: list[str | None] = []
    for part in query.split("&") if query else []:
        name, eq, value = part.partition("=")
        out.append(value if eq and _SECRET_PARAM.search(unquote(name)) else None)
    return out


def redact_url(url: str) -> str:
    """The URL without user:password and with secret query values as *** (for logs and messages)."""
    u = urlsplit(url)
    netloc = u.netloc
    if u.username or u.password:
        netloc = u.hostname or ""
        if u.port:
            netloc += f":{u.port}"
    query = "&".join(part if secret is None else part.partition("=")[0] + "=***"
                     for part, secret in zip(u.query.split("&"), _secret_values(u.query)))
    return urlunsplit((u.scheme, netloc, u.path, query, u.fragment))


def url_secrets(url: str) -> tuple[str, ...]:
    """The secrets a URL carries (its password, the values of secret query parameters), as written and decoded."""
    u = urlsplit(url)
    found = [u.password or ""] + [v for v in _secret_values(u.query) if v]
    return tuple({s for v in found for s in (v, unquote(v)) if s})


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its query string, and the query's parameters (the openai client appends paths to its
    base URL, so a query must travel as ``default_query``)."""
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, u.path.rstrip("/"), "", "")), dict(parse_qsl(u.query, keep_blank_values=True))


def is_openai(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.com")


def resolve_endpoint(base_url: str | None, api_key: str | None) -> tuple[str, str, str]:
    """(endpoint, key, where the key came from). ``OPENAI_API_KEY`` belongs to the endpoint it is paired
    with: ``OPENAI_BASE_URL`` when that is set, api.openai.com otherwise. It is sent nowhere else; other
    endpoints get a placeholder (local servers need none) unless a key is passed explicitly."""
    env_url = (os.environ.get("OPENAI_BASE_URL") or "").strip() or None
    endpoint = (base_url or env_url or OPENAI_URL).strip().rstrip("/")
    if not urlsplit(endpoint).scheme or not urlsplit(endpoint).hostname:
        raise WriterError(f"'{redact_url(endpoint)}' is not an endpoint URL. Give one such as "
                          "http://localhost:11434/v1 (Ollama) or http://localhost:8080/v1 (llama.cpp server).")
    if api_key:
        return endpoint, api_key, "argument"
    env_key = (os.environ.get("OPENAI_API_KEY") or "").strip()
    key_home = env_url or OPENAI_URL
    if env_key and _origin(endpoint) == _origin(key_home):
        return endpoint, env_key, "OPENAI_API_KEY"
    if is_openai(endpoint):
        why = (f"OPENAI_API_KEY belongs to OPENAI_BASE_URL ({redact_url(key_home)}), so it is not sent to "
               f"{redact_url(endpoint)}" if env_key else f"no API key for {redact_url(endpoint)}")
        raise WriterError(
            f"{why}. Set OPENAI_API_KEY (and unset OPENAI_BASE_URL) for OpenAI, or point the writer at a local "
            "OpenAI-compatible server with --base-url (e.g. http://localhost:11434/v1 for Ollama).")
    return endpoint, PLACEHOLDER_KEY, "placeholder"


def _error_text(exc: Exception) -> str:
    parts = [str(getattr(exc, "message", "") or exc)]
    body = getattr(exc, "body", None)
    if body is not None:
        parts.append(str(body))
    return " ".join(parts)


def _refuses_format(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None)
    if status not in (400, 422, 500, 501):
        return False
    text = _error_text(exc).lower()
    return any(w in text for w in _FORMAT_WORDS)


class OpenAIChat:
    """Chat completions against OpenAI or any compatible server."""

    provider = "openai"

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 temperature: float | None = None, max_tokens: int | None = None, timeout: float = 120.0):
        try:
            import openai
        except ImportError:
            raise WriterError("the writer needs the openai package: pip install 'storyaudio[writer]'.") from None
        self._openai = openai
        self.endpoint, self._key, self.key_source = resolve_endpoint(base_url, api_key)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        base, query = split_query(self.endpoint)
        # retries are ours (_create): the client's would wait out a hung server three times
        self.client = openai.OpenAI(api_key=self._key, base_url=base, default_query=query or None, timeout=timeout,
                                    max_retries=0)
        self.mode_index = 0
        self.model = model or os.environ.get("STORYAUDIO_WRITER_MODEL") or self._default_model()

    @property
    def secrets(self) -> tuple[str, ...]:
        return ((self._key,) if self.key_source != "placeholder" else ()) + url_secrets(self.endpoint)

    @property
    def where(self) -> str:
        return redact_url(self.endpoint)

    @property
    def mode(self) -> str:
        return MODES[self.mode_index]

    def _default_model(self) -> str:
        if is_openai(self.endpoint):
            return DEFAULT_OPENAI_MODEL
        try:
            names = [m.id for m in self.client.models.list()]
        except Exception as exc:  # noqa: BLE001 - any failure means: ask the user for the name
            raise WriterError(f"name the model to use with --model: {self.where} did not list its models "
                              f"({type(exc).__name__}: {_error_text(exc)[:200]}).") from None
        if len(names) == 1:
            return names[0]
        if not names:
            raise WriterError(f"{self.where} serves no models. Load one (e.g. `ollama pull qwen2.5:7b`) and "
                              "name it with --model.")
        raise WriterError(f"name the model to use with --model; {self.where} serves: {', '.join(names[:20])}.")

    def _response_format(self, schema: tuple[str, dict] | None = None) -> dict | None:
        if self.mode == "json_schema":
            name, body = schema or (SCHEMA_NAME, strict_schema())
            return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": body}}
        if self.mode == "json_object":
            return {"type": "json_object"}
        return None

    def complete(self, messages: list[dict], schema: tuple[str, dict] | None = None) -> Reply:
        """One reply to ``messages``. ``schema`` (name, strict JSON Schema) is what a structured reply must
        match; default: the audio script's."""
        openai = self._openai
        fallbacks: list[dict] = []
        while True:
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
            fmt = self._response_format(schema)
            if fmt is not None:
                kwargs["response_format"] = fmt
            if self.temperature is not None:
                kwargs["temperature"] = self.temperature
            if self.max_tokens is not None:
                kwargs["max_tokens"] = self.max_tokens
            try:
                raw = self._create(kwargs)
            except openai.APIStatusError as exc:
                if _refuses_format(exc) and self.mode_index < len(MODES) - 1:
                    fallbacks.append({"refused": self.mode, "status": exc.status_code,
                                      "error": _error_text(exc)[:500]})
                    self.mode_index += 1
                    continue
                raise self._status_error(exc) from None
            except openai.APITimeoutError:
                raise WriterError(
                    f"{self.where} did not answer within {self.timeout:g} s (--timeout). A local model may need "
                    "longer (raise --timeout) or a smaller model; a server that never answers is stuck: restart "
                    "it.") from None
            except openai.APIConnectionError as exc:
                raise self._connection_error(exc) from None
            return self._reply(self._completion(raw), fallbacks)

    def _create(self, kwargs: dict[str, Any]):
        """One chat request (the raw response, parsed by :meth:`_completion`), retried after a rate limit, a
        server error or a dropped connection; never after a timeout."""
        openai = self._openai
        attempt = 0
        while True:
            try:
                return self.client.chat.completions.with_raw_response.create(**kwargs)
            except openai.APITimeoutError:
                raise
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                delay = _retry_delay(exc, attempt)
                if delay is None:
                    raise
                time.sleep(delay)
                attempt += 1

    def _completion(self, raw):
        """The parsed chat completion, or a WriterError when the body is something else (an HTML page from a
        proxy or login portal, JSON of another API)."""
        try:
            resp = raw.parse()
        except ValueError:  # a JSON content type over a body that is not JSON
            resp = None
        if resp is not None and not isinstance(resp, str) and getattr(resp, "choices", None):
            return resp
        body = raw.http_response.text or ""
        ctype = (raw.headers.get("content-type") or "no content type").split(";")[0].strip()
        what = ("a web page (HTML)" if re.search(r"<(!doctype|html|head|body)\b", body[:2000], re.IGNORECASE)
                else f"{ctype} that is not a chat completion")
        snippet = " ".join(body.split())[:120]
        raise WriterError(
            f"{self.where} answered HTTP {raw.status_code} with {what} (it begins: {snippet!r}). Check --base-url: "
            "it is the API's address (often ending in /v1), not a web page, a proxy's or a login page.")

    def _connection_error(self, exc) -> WriterError:
        cause = exc.__cause__
        if type(cause).__name__ in ("RemoteProtocolError", "ReadError", "WriteError"):
            return WriterError(
                f"the connection to {self.where} dropped before the reply came ({cause}); tried {RETRIES + 1} "
                "times. The server may have crashed or restarted (a local model can run out of memory): check "
                "its log and try again.")
        return WriterError(f"cannot reach {self.where} ({cause or exc}). Is the server running? "
                           "Check --base-url / OPENAI_BASE_URL.")

    def _reply(self, resp, fallbacks: list[dict]) -> Reply:
        choice = resp.choices[0] if getattr(resp, "choices", None) else None
        text = None
        if choice is not None and choice.message is not None:
            text = choice.message.content
            refusal = getattr(choice.message, "refusal", None)
            if not text and refusal:
                text = f"(refusal) {refusal}"
        usage = {}
        if getattr(resp, "usage", None) is not None:
            u = resp.usage
            usage = {k: getattr(u, k, None) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        return Reply(text=text, model=getattr(resp, "model", None) or self.model,
                     finish_reason=getattr(choice, "finish_reason", None), usage=usage, mode=self.mode,
                     fallbacks=fallbacks)

    def _status_error(self, exc) -> WriterError:
        status = exc.status_code
        detail = _error_text(exc)[:300]
        if status == 401:
            if self.key_source == "placeholder":
                hint = (f"{self.where} wants an API key. storyaudio sends OPENAI_API_KEY only to the endpoint it "
                        f"belongs to: set OPENAI_BASE_URL={self.where} together with OPENAI_API_KEY.")
            else:
                hint = f"the API key ({self.key_source}) was refused by {self.where}; check it."
            return WriterError(f"{hint} (HTTP 401: {detail})")
        if status == 404:
            return WriterError(f"{self.where} has no model '{self.model}' (HTTP 404: {detail}). Name a model it "
                               "serves with --model (Ollama: `ollama list`).")
        if status == 429:
            return WriterError(f"{self.where} is rate-limiting us or the account is out of quota (HTTP 429: "
                               f"{detail}). Wait and retry, or use another model.")
        return WriterError(f"{self.where} refused the request (HTTP {status}: {detail}).")


def _retry_delay(exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None to give up (retries spent, a format refusal that the caller
    handles, or a Retry-After too long to wait)."""
    if attempt >= RETRIES or _refuses_format(exc):
        return None
    response = getattr(exc, "response", None)
    after = response.headers.get("retry-after") if response is not None else None
    if after is not None:
        try:
            seconds = float(after)
        except ValueError:
            seconds = None
        if seconds is not None:
            return seconds if 0 <= seconds <= MAX_RETRY_AFTER else None
    return RETRY_BASE_SECONDS * 2 ** attempt


_LLAMA_CACHE: dict[tuple[str, int], Any] = {}


def _close_models() -> None:
    """Free cached models before interpreter teardown (llama-cpp-python's __del__ fails late in shutdown)."""
    while _LLAMA_CACHE:
        _, llm = _LLAMA_CACHE.popitem()
        try:
            llm.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class LlamaCppChat:
    """A GGUF model in-process through llama-cpp-python, its output constrained by a grammar built from the
    strict script schema (so it always emits schema-shaped JSON, though not necessarily a sensible script)."""

    provider = "llama-cpp"
    key_source = "none"
    secrets: tuple[str, ...] = ()
    mode = "json_schema"

    def __init__(self, gguf: str | os.PathLike | None, temperature: float | None = None,
                 max_tokens: int | None = None, n_ctx: int = 8192, seed: int = 0):
        if not gguf:
            gguf = os.environ.get("STORYAUDIO_GGUF")
        if not gguf:
            raise WriterError("the llama-cpp provider needs a model file: --gguf PATH/TO/MODEL.gguf "
                              "(or STORYAUDIO_GGUF). An instruction-tuned model of 3B+ parameters writes usable "
                              "scripts.")
        path = Path(gguf).expanduser()
        if not path.is_file():
            raise WriterError(f"{path}: no such GGUF file. Give the path of a .gguf model with --gguf.")
        try:
            import llama_cpp
        except ImportError:
            raise WriterError(f"the llama-cpp provider needs llama-cpp-python: {LOCAL_LLM_HINT}.") from None
        self.model = path.name
        self.where = str(path)
        self.temperature = 0.7 if temperature is None else temperature
        self.max_tokens = max_tokens
        self.seed = seed
        key = (str(path.resolve()), n_ctx)
        if key not in _LLAMA_CACHE:
            if not _LLAMA_CACHE:
                atexit.register(_close_models)
            try:
                _LLAMA_CACHE[key] = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False, seed=seed)
            except Exception as exc:  # noqa: BLE001 - llama.cpp raises ValueError/RuntimeError variously
                raise WriterError(f"{path}: llama.cpp cannot load it ({exc}). Is it a GGUF model file?") from None
        self.llm = _LLAMA_CACHE[key]
        self.n_ctx = n_ctx

    def complete(self, messages: list[dict], schema: tuple[str, dict] | None = None) -> Reply:
        # llama-cpp-python turns a JSON schema given with the json_object type into a GBNF grammar.
        fmt = {"type": "json_object", "schema": schema[1] if schema else strict_schema()}
        try:
            resp = self.llm.create_chat_completion(messages=messages, response_format=fmt,
                                                   temperature=self.temperature, max_tokens=self.max_tokens,
                                                   seed=self.seed)
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise WriterError(f"llama.cpp refused the request ({exc}). A longer context (a model with more "
                              f"than {self.n_ctx} tokens of context) or a shorter prompt may help.") from None
        choice = resp["choices"][0]
        return Reply(text=choice["message"].get("content"), model=self.model,
                     finish_reason=choice.get("finish_reason"), usage=dict(resp.get("usage") or {}),
                     mode=self.mode)
