"""HFPolicy on a tiny random llama with SmolLM2's tokenizer; OpenAIPolicy against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

torch = pytest.importorskip("torch")

from searchgym.agents.policy import Completion, Policy  # noqa: E402

CONV_A = [{"role": "system", "content": "You search."}, {"role": "user", "content": "Who wrote Ballad of the Shadow?"}]
CONV_B = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from searchgym.agents.models import resolve_model

    return AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def make(tiny_model, tokenizer, **kw):
    from searchgym.agents.hf_policy import HFPolicy

    kw.setdefault("max_new_tokens", 12)
    return HFPolicy(tiny_model, tokenizer, **kw)


def reference_logprobs(model, prompt, tokens, temperature):
    ids = torch.tensor([list(prompt) + list(tokens)])
    with torch.no_grad():
        logits = model(ids).logits[0, len(prompt) - 1 : -1].float()
    if temperature:
        logits = logits / temperature
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(tokens)[:, None]).squeeze(-1)


def test_shapes_and_logprobs_match_a_forward_pass(tiny_model, tokenizer):
    policy = make(tiny_model, tokenizer, temperature=1.0, seed=3)
    assert isinstance(policy, Policy)
    out = policy.generate([CONV_A, CONV_B], n=3)  # different lengths: left padding in one batch
    assert [len(o) for o in out] == [3, 3]
    for conv, comps in zip([CONV_A, CONV_B], out):
        for comp in comps:
            assert isinstance(comp, Completion)
            assert list(comp.prompt_ids) == policy.prompt_ids(conv)
            assert 1 <= len(comp.token_ids) == len(comp.logprobs) <= 12
            ref = reference_logprobs(tiny_model, comp.prompt_ids, comp.token_ids, 1.0)
            assert torch.allclose(torch.tensor(comp.logprobs), ref, atol=2e-4), (comp.logprobs, ref)
    assert policy.generated_tokens == sum(len(c.token_ids) for o in out for c in o)


def test_seed_determinism(tiny_model, tokenizer):
    runs = [[c.token_ids for o in make(tiny_model, tokenizer, seed=s).generate([CONV_A], n=4) for c in o]
            for s in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_shared_prefix_matches_reencoding(tiny_model, tokenizer):
    shared = make(tiny_model, tokenizer, temperature=0.0).generate([CONV_A, CONV_B], n=3)
    again = make(tiny_model, tokenizer, temperature=0.0, shared_prefix=False).generate([CONV_A, CONV_B], n=3)
    assert [[c.token_ids for c in o] for o in shared] == [[c.token_ids for c in o] for o in again]
    for a, b in zip(shared[0], again[0]):
        assert torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=2e-4)


def test_stops_at_end_of_action(tiny_model, tokenizer):
    free = make(tiny_model, tokenizer, temperature=0.0, max_new_tokens=16, stop=()).generate([CONV_A])[0][0]
    # pick a stop string the greedy continuation produces mid-way
    head = tokenizer.decode(free.token_ids[:6], skip_special_tokens=True)
    stop = tokenizer.decode(free.token_ids[4:6], skip_special_tokens=True)
    assert stop.strip() and stop in head
    cut = make(tiny_model, tokenizer, temperature=0.0, max_new_tokens=16, stop=(stop,)).generate([CONV_A])[0][0]
    assert cut.text.endswith(stop) and stop not in cut.text[:-len(stop)]
    assert len(cut.token_ids) <= 6 < len(free.token_ids)
    assert free.token_ids[: len(cut.token_ids)] == cut.token_ids


def testcut_at_stop():
    from searchgym.agents.hf_policy import cut_at_stop

    text = "think <search>a b</search> more <answer>x</answer>"
    assert cut_at_stop(text, ("</answer>", "</search>")) == "think <search>a b</search>"
    assert cut_at_stop("no action", ("</search>",)) == "no action"


# --- OpenAIPolicy against a real server on loopback ----------------------------------------------

class _ChatServer(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, body))
        question = body["messages"][-1]["content"]
        # a server that honours the stop sequence: the text is cut BEFORE it, finish_reason "stop"
        choices = [{"index": i, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": f"plan {i} <search>{question}"}}
                   for i in range(body.get("n", 1))]
        payload = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                              "choices": choices}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture()
def chat_server():
    _ChatServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_policy_against_a_chat_server(chat_server):
    from searchgym.agents.openai_policy import OpenAIPolicy

    policy = OpenAIPolicy("tiny", base_url=chat_server, max_tokens=32, temperature=0.5, timeout=5, max_retries=0)
    assert isinstance(policy, Policy)
    out = policy.generate([CONV_A, CONV_B], n=2)
    assert [[c.text for c in o] for o in out] == [
        [f"plan {i} <search>{CONV_A[-1]['content']}</search>" for i in range(2)],
        [f"plan {i} <search>Hi</search>" for i in range(2)]]
    paths = {p for p, _ in _ChatServer.requests}
    assert paths == {"/v1/chat/completions"}
    body = _ChatServer.requests[0][1]
    assert body["n"] == 2 and body["max_tokens"] == 32 and set(body["stop"]) == {"</search>", "</open>", "</answer>"}


def test_openai_policy_surfaces_connection_errors():
    import openai

    from searchgym.agents.openai_policy import OpenAIPolicy

    policy = OpenAIPolicy("tiny", base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        policy.generate([CONV_B])
