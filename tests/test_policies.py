"""HFPolicy on a tiny random llama with SmolLM2's tokenizer; OpenAIPolicy against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

torch = pytest.importorskip("torch")

from searchgym.policies.policy import Completion, Policy  # noqa: E402

CONV_A = [{"role": "system", "content": "You search."}, {"role": "user", "content": "Who wrote Ballad of the Shadow?"}]
CONV_B = [{"role": "user", "content": "Hi"}]


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
    from searchgym.policies.hf_policy import HFPolicy

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
    assert stop in cut.text and stop not in tokenizer.decode(cut.token_ids[:-1], skip_special_tokens=True)
    assert len(cut.token_ids) <= 6 < len(free.token_ids)
    assert free.token_ids[: len(cut.token_ids)] == cut.token_ids


def first_stop_by_decoding(tokenizer, ids, stops):
    """Reference: the first prefix whose decoded text holds a stop string (None when none does)."""
    for i in range(len(ids)):
        if any(s in tokenizer.decode(ids[: i + 1], skip_special_tokens=True) for s in stops):
            return i
    return None


def test_stop_candidates_find_every_first_stop(tokenizer):
    """Decoding only at candidate tokens finds the same first stop as decoding every prefix, on random
    sequences built from pieces that split stop strings and multi-byte characters across tokens."""
    import random

    from searchgym.policies.hf_policy import DEFAULT_STOP, stop_candidates

    stops = (*DEFAULT_STOP, "»", "日本")
    cand = stop_candidates(tokenizer, stops, len(tokenizer))
    pool, chunks = set(), []
    for text in ["</search>", "</ search>", "<search>q</search>x", "</open></answer>", "a>b", ">>", " >", "</",
                 "search", "answer", "open", "»", "日本語", "«»", "café", "\u00e5>", "</searchx", "<|im_end|>"]:
        ids = tokenizer.encode(text, add_special_tokens=False)
        chunks.append(ids)
        pool.update(ids)
        pool.update(tokenizer.convert_tokens_to_ids(list(tokenizer.convert_ids_to_tokens(ids))))
    pool = sorted(pool)
    byte_tokens = list(range(256))  # single bytes: split characters anywhere
    rng = random.Random(0)
    found = 0
    for _ in range(1500):
        ids: list[int] = []
        for _ in range(rng.randint(1, 6)):  # whole or partial encodings of stop-bearing texts, tokens, bytes
            r, chunk = rng.random(), rng.choice(chunks)
            ids += chunk[rng.randrange(len(chunk)):] if r < 0.4 else [rng.choice(pool if r < 0.8 else byte_tokens)]
        ref = first_stop_by_decoding(tokenizer, ids, stops)
        fast = next((i for i in range(len(ids)) if cand[ids[i]] and any(
            s in tokenizer.decode(ids[: i + 1], skip_special_tokens=True) for s in stops)), None)
        assert fast == ref, (ids, tokenizer.decode(ids), ref, fast)
        found += ref is not None
    assert found > 300  # the samples do exercise stops
    assert cand.float().mean() < 0.1  # and only a small share of the vocabulary needs a decode


@pytest.mark.parametrize("seed", [0, 1])
def test_text_is_the_decoded_ids_and_ends_at_the_first_stop(tiny_model, tokenizer, seed):
    """On many sampled rows: text == decode(token_ids), and a row that holds a stop got it from its last
    token (the row without that token holds none)."""
    stops = ("e", "in", "s ")  # frequent: most rows stop, often inside or across tokens
    policy = make(tiny_model, tokenizer, temperature=1.0, seed=seed, stop=stops, max_new_tokens=20, batch_size=32)
    prompts = [[tokenizer.eos_token_id + 1 + i, 42 + 7 * i] for i in range(8)]
    rows = [c for group in policy.generate_ids(prompts, n=4) for c in group]
    stopped = 0
    for comp in rows:
        text = tokenizer.decode(comp.token_ids, skip_special_tokens=True)
        assert comp.text == text
        # an EOS, when sampled, is the last token (kept: it is trained)
        assert tokenizer.eos_token_id not in comp.token_ids[:-1]
        ids = [t for t in comp.token_ids if t != tokenizer.eos_token_id]
        assert first_stop_by_decoding(tokenizer, ids, stops) in (None, len(ids) - 1)
        stopped += any(s in text for s in stops)
        assert len(comp.token_ids) <= 20
    assert stopped >= len(rows) // 2


def test_rows_that_run_on_are_not_cut(tiny_model, tokenizer):
    policy = make(tiny_model, tokenizer, temperature=1.0, seed=5, stop=("</search>",), max_new_tokens=10)
    for comp in (c for g in policy.generate([CONV_A, CONV_B], n=3) for c in g):
        assert "</search>" not in comp.text and len(comp.token_ids) == 10  # the seeded rows never sample EOS
        assert comp.text == tokenizer.decode(comp.token_ids, skip_special_tokens=True)


def test_generate_ids_takes_exact_token_prompts(tiny_model, tokenizer):
    by_chat = make(tiny_model, tokenizer, seed=9).generate([CONV_A, CONV_B], n=2)
    policy = make(tiny_model, tokenizer, seed=9)
    by_ids = policy.generate_ids([policy.prompt_ids(CONV_A), policy.prompt_ids(CONV_B)], n=2)
    assert by_chat == by_ids
    raw = policy.generate_ids([[5, 6, 7]], n=1)[0][0]  # no template added: the prompt is used as given
    assert raw.prompt_ids == (5, 6, 7)
    with pytest.raises(ValueError):
        policy.generate_ids([[]])
    with pytest.raises(ValueError):
        policy.generate_ids([[1]], n=0)


def test_reading_ids_a_step_late_changes_nothing(tiny_model, tokenizer):
    """The CUDA schedule (host reads each step's ids one step late, rows dropped a step later) gives the
    completions of the immediate schedule; greedy, so batch composition cannot shift random draws."""
    stops = ("e", "in")
    runs = []
    for lag in (0, 1):
        policy = make(tiny_model, tokenizer, temperature=0.0, stop=stops, max_new_tokens=16, batch_size=32)
        policy.host_lag = lag
        runs.append(policy.generate([CONV_A, CONV_B], n=1) + policy.generate_ids([[5, 6, 7], [9] * 4, [11, 300]]))
    assert [[c.token_ids for c in g] for g in runs[0]] == [[c.token_ids for c in g] for g in runs[1]]
    lengths = {len(c.token_ids) for g in runs[0] for c in g}
    assert len(lengths) > 1  # rows ended at different steps: rows were dropped mid-batch


def test_ignore_stops_runs_every_row_to_the_limit(tiny_model, tokenizer):
    policy = make(tiny_model, tokenizer, seed=1, stop=("e",), max_new_tokens=9, ignore_stops=True)
    rows = [c for g in policy.generate([CONV_A, CONV_B], n=3) for c in g]
    assert all(len(c.token_ids) == 9 for c in rows)


@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("outputs", [("log_probs", "entropy"), ("log_probs", "entropy", "is_top1")])
def test_compact_lm_head_matches_trl(tokenizer, autocast, outputs):
    """searchgym.train.fast_logprobs: on CPU, columns padded in every row are dropped and only labelled
    positions are scored, by whole-vocabulary rows in place of TRL's tiles; log-probs, entropies, is-top-1,
    loss and gradients are TRL's (float32 summation order apart), in float32 and under bf16 autocast, with
    a temperature and an entropy term in the loss."""
    import types

    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from searchgym.train.fast_logprobs import install_compact_lm_head

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=3000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2))
    add_fused_lm_head(model, temperature=0.7, outputs=outputs)
    prompt = torch.randint(0, 3000, (3, 160))
    with torch.no_grad():  # greedy continuations, every third token then replaced: targets top-1 and not
        ids = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=140, min_new_tokens=140,
                             do_sample=False, pad_token_id=0)
    ids[:, 160::3] = torch.randint(0, 3000, ids[:, 160::3].shape)
    mask = torch.ones_like(ids)
    mask[0, :6] = 0  # left padding
    mask[:, :2] = 0  # padding in every row, left and right: the compact path drops those columns
    mask[:, -3:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :-140] = -100  # prompt positions are not scored; 3 x 137 labels span several token chunks
    widths = []
    model.model.register_forward_pre_hook(lambda module, a, kw: widths.append(kw["input_ids"].shape[1]),
                                          with_kwargs=True)

    def run():
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
        (out.log_probs[:, -140:].sum() + 0.1 * out.entropy[:, -140:].sum()).backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        top1 = out.is_top1.detach() if "is_top1" in outputs else None
        return out.log_probs.detach(), out.entropy.detach(), out.loss.detach(), top1, grads

    reference = run()
    trainer = types.SimpleNamespace(model=model, ref_model=None, temperature=0.7,
                                    args=types.SimpleNamespace(cast_lm_head_to_fp32=False))
    assert install_compact_lm_head(trainer, outputs=outputs)
    assert not install_compact_lm_head(trainer, outputs=outputs)  # once only
    compact = run()
    assert widths == [300, 295]  # TRL's forward sees every column; the compact one only the unpadded span
    for a, b in zip(reference[:3], compact[:3]):
        # bf16: the dropped columns shift RoPE's absolute angles, and rotated q/k round differently
        assert torch.allclose(a, b, rtol=0, atol=1e-2 if autocast else 1e-5), (a - b).abs().max()
    if "is_top1" in outputs:
        assert (reference[3] != compact[3]).float().mean() <= (0.01 if autocast else 0.0)  # bf16: near-ties
        assert compact[3][:, -140:].any() and not compact[3][:, -140:].all()
    assert len(reference[4]) == len(compact[4])
    for a, b in zip(reference[4], compact[4]):
        if autocast:  # bf16 backward: a value on a rounding boundary flips an ulp (bf16's epsilon is 7.8e-3)
            assert (a - b).norm() <= 1e-2 * b.norm(), ((a - b).norm(), b.norm())
        else:
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), (a - b).abs().max()
    # a model TRL did not patch is left alone
    plain = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    assert not install_compact_lm_head(types.SimpleNamespace(model=plain, ref_model=None, temperature=1.0,
                                                             args=trainer.args))


def testcut_at_stop():
    from searchgym.policies.hf_policy import cut_at_stop

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
    from searchgym.policies.openai_policy import OpenAIPolicy

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

    from searchgym.policies.openai_policy import OpenAIPolicy

    policy = OpenAIPolicy("tiny", base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        policy.generate([CONV_B])


# --- cross-turn KV reuse ---------------------------------------------------------------------
def glue_ids(tokenizer, row, turn):
    """An environment reply between turns; its length differs per row and turn."""
    text = "<|im_end|>\n<|im_start|>user\n" + "result " * (1 + (3 * row + turn) % 5) + "<|im_end|>\n<|im_start|>assistant\n"
    return tokenizer.encode(text, add_special_tokens=False)


def multi_turn(policy, tokenizer, prompts, branches=(2, 1, 2)):
    """Turns of episodes: each context grows by the sampled turn and a reply; ``branches[t]`` is n at turn t
    (every branch goes on as its own episode). Returns the completions of every turn."""
    contexts, turns = [list(p) for p in prompts], []
    for t, n in enumerate(branches):
        out = policy.generate_ids(contexts, n=n)
        turns.append(out)
        contexts = [list(c.prompt_ids) + list(c.token_ids) + glue_ids(tokenizer, i, t)
                    for i, c in enumerate(c for group in out for c in group)]
    return turns


def assert_same_turns(a, b, atol=1e-4):
    assert [[[c.token_ids for c in g] for g in t] for t in a] == [[[c.token_ids for c in g] for g in t] for t in b]
    for ta, tb in zip(a, b):
        for ga, gb in zip(ta, tb):
            for ca, cb in zip(ga, gb):
                assert ca.prompt_ids == cb.prompt_ids
                assert torch.allclose(torch.tensor(ca.logprobs), torch.tensor(cb.logprobs), atol=atol)


@pytest.mark.parametrize("lag", [0, 1])
def test_kv_reuse_across_turns_matches_reencoding(tiny_model, tokenizer, lag):
    """Greedy 3-turn episodes (prompts of different lengths, n > 1 branches, rows ending at different
    steps, several batches per call): reusing each row's KV cache gives the ids and log-probs of
    encoding every prompt whole, and encodes far fewer prompt tokens."""
    runs = {}
    for reuse in (False, True):
        policy = make(tiny_model, tokenizer, temperature=0.0, stop=("e", "in"), max_new_tokens=10, batch_size=4,
                      reuse_kv=reuse)
        policy.host_lag = lag
        prompts = [policy.prompt_ids(CONV_A), policy.prompt_ids(CONV_B), [5, 6, 7], [9] * 4, [11, 300]]
        runs[reuse] = (policy, multi_turn(policy, tokenizer, prompts))
    (plain, plain_turns), (reuse, reuse_turns) = runs[False], runs[True]
    assert_same_turns(reuse_turns, plain_turns)
    lengths = {len(c.token_ids) for t in plain_turns for g in t for c in g}
    assert len(lengths) > 1, lengths  # rows ended at different steps: rows left the batch mid-way
    total = sum(len(g[0].prompt_ids) for t in plain_turns for g in t)  # shared prefix: a prompt is encoded once
    assert plain.encoded_tokens == total and plain.reused_tokens == 0
    assert reuse.encoded_tokens + reuse.reused_tokens == total
    assert reuse.encoded_tokens < 0.6 * total


def test_kv_reuse_matches_a_forward_pass_after_branching(tiny_model, tokenizer):
    """Sampled turns with the store on: the log-probs of later turns are those of one plain forward over
    the whole context (without shared-prefix encoding, so cached prefixes are copied per branch)."""
    policy = make(tiny_model, tokenizer, temperature=1.0, seed=4, max_new_tokens=8, shared_prefix=False)
    turns = multi_turn(policy, tokenizer, [policy.prompt_ids(CONV_A), policy.prompt_ids(CONV_B)], (2, 2))
    assert policy.reused_tokens > 0
    for comp in (c for g in turns[1] for c in g):
        ref = reference_logprobs(tiny_model, comp.prompt_ids, comp.token_ids, 1.0)
        assert torch.allclose(torch.tensor(comp.logprobs), ref, atol=2e-4)


def test_identical_prompts_are_encoded_once_and_sampled_independently(tiny_model, tokenizer):
    """A trajectory group's G episodes share their first prompt: it is encoded once per call, each row
    still draws its own tokens, and every row's log-probs are those of a plain forward over its context;
    on a later turn, rows whose contexts coincide (same reused prefix too) are encoded once again."""
    policy = make(tiny_model, tokenizer, temperature=1.0, seed=3, max_new_tokens=8)
    a, b = policy.prompt_ids(CONV_A), policy.prompt_ids(CONV_B)
    out = policy.generate_ids([a, a, a, b, b], n=1)
    assert policy.encoded_tokens == len(a) + len(b)
    draws = [c.token_ids for g in out for c in g]
    assert len(set(draws[:3])) > 1  # copies of one prompt's cache, then independent samples
    for comp in (g[0] for g in out):
        ref = reference_logprobs(tiny_model, comp.prompt_ids, comp.token_ids, 1.0)
        assert torch.allclose(torch.tensor(comp.logprobs), ref, atol=2e-4)
    greedy = make(tiny_model, tokenizer, temperature=0.0, max_new_tokens=5)
    first = greedy.generate_ids([a, a])
    assert first[0][0].token_ids == first[1][0].token_ids
    context = list(a) + list(first[0][0].token_ids) + glue_ids(tokenizer, 0, 0)
    before = greedy.encoded_tokens + greedy.reused_tokens
    second = greedy.generate_ids([context, context])
    assert greedy.reused_tokens > 0
    assert greedy.encoded_tokens + greedy.reused_tokens - before == len(context)  # once, not twice
    assert second[0][0].token_ids == second[1][0].token_ids


def test_kv_store_is_dropped_when_weights_change(tiny_model, tokenizer):
    """An in-place weight update (what an optimizer step does) invalidates the store: the next turn equals
    a fresh policy's, and encodes every prompt token; a stale store would have changed it."""
    import copy

    prompts = [tokenizer.encode("Who wrote Ballad of the Shadow?", add_special_tokens=False), [5, 6, 7, 8]]

    def second_turn(policy, stale=False):
        first = policy.generate_ids(prompts)
        with torch.no_grad():
            for p in policy.model.parameters():
                p.mul_(1.5)
        if stale:  # pretend nothing changed: the stored caches of the old weights get used
            policy._kv_state = policy._kv_signature()
        return policy.generate_ids([list(g[0].prompt_ids) + list(g[0].token_ids) + glue_ids(tokenizer, i, 0)
                                    for i, g in enumerate(first)])

    kw = {"temperature": 0.0, "max_new_tokens": 6}
    policy = make(copy.deepcopy(tiny_model), tokenizer, **kw)
    after = second_turn(policy)
    assert policy.reused_tokens == 0
    fresh = make(copy.deepcopy(tiny_model), tokenizer, reuse_kv=False, **kw)
    assert_same_turns([after], [second_turn(fresh)])
    stale = make(copy.deepcopy(tiny_model), tokenizer, **kw)
    stale_after = second_turn(stale, stale=True)
    assert stale.reused_tokens > 0
    assert any(not torch.allclose(torch.tensor(a[0].logprobs), torch.tensor(b[0].logprobs), atol=1e-3)
               for a, b in zip(stale_after, after))


def test_kv_store_follows_an_optimizer_step_on_a_peft_model(tiny_model, tokenizer):
    """With a LoRA-wrapped model only the adapters train: an optimizer step on them clears the store."""
    import copy

    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(copy.deepcopy(tiny_model), peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    policy = make(model, tokenizer, temperature=0.0, max_new_tokens=6)
    first = policy.generate_ids([[5, 6, 7, 8, 9]])[0][0]
    nxt = [list(first.prompt_ids) + list(first.token_ids) + [11, 12]]
    policy.generate_ids(nxt)
    assert policy.reused_tokens > 0  # same weights: reused
    reused = policy.reused_tokens
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    model(input_ids=torch.tensor([nxt[0]]), labels=torch.tensor([nxt[0]])).loss.backward()
    opt.step()
    policy.generate_ids([list(nxt[0]) + [13, 14]])
    assert policy.reused_tokens == reused  # the step moved the adapters: nothing reused


def test_kv_store_is_bounded_and_can_be_turned_off(tiny_model, tokenizer):
    policy = make(tiny_model, tokenizer, temperature=0.0, max_new_tokens=4, kv_store_rows=3)
    policy.generate_ids([[5, 6, 7 + i] for i in range(5)], n=2)
    assert len(policy._kv) == 3
    off = make(tiny_model, tokenizer, temperature=0.0, max_new_tokens=4, reuse_kv=False)
    off.generate_ids([[5, 6, 7]])
    assert not off._kv
    with pytest.raises(ValueError):
        make(tiny_model, tokenizer, kv_store_rows=0)


@pytest.fixture(scope="module")
def copying_model(tiny_model):
    """The tiny model with an LM-head bias towards two tokens: its greedy turns fall into short cycles (8 8 8,
    16283 7 8 ...), so prompt-lookup drafts are accepted and refused, as a search agent's copied text is."""
    import copy

    model = copy.deepcopy(tiny_model)
    head = torch.nn.Linear(model.lm_head.in_features, model.lm_head.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(tiny_model.lm_head.weight)
        head.bias.zero_()
        head.bias[7], head.bias[8] = 0.5, 0.45
    model.lm_head = head
    model.config.tie_word_embeddings = False
    return model


@pytest.mark.parametrize("reuse", [False, True])
def test_lookup_drafts_change_neither_greedy_turns_nor_their_logprobs(copying_model, tokenizer, reuse):
    """Greedy 3-turn episodes as above (stops, n > 1 branches, rows ending at different steps, several batches,
    with and without the KV store): verifying prompt-lookup drafts gives the ids and log-probs of decoding one
    token a forward, in fewer forwards."""
    runs = {}
    for lookup in (0, 4):
        policy = make(copying_model, tokenizer, temperature=0.0, stop=("e", "in"), max_new_tokens=10, batch_size=4,
                      reuse_kv=reuse, lookup_tokens=lookup)
        prompts = [policy.prompt_ids(CONV_A), policy.prompt_ids(CONV_B), [5, 6, 7], [9] * 4, [11, 300]]
        runs[lookup] = (policy, multi_turn(policy, tokenizer, prompts))
    (plain, plain_turns), (drafted, drafted_turns) = runs[0], runs[4]
    assert_same_turns(drafted_turns, plain_turns)
    assert drafted.generated_tokens == plain.generated_tokens
    # run on without stops, through the model's cycles: the same ids in fewer forwards
    plain = make(copying_model, tokenizer, temperature=0.0, max_new_tokens=40, stop=())
    drafted = make(copying_model, tokenizer, temperature=0.0, max_new_tokens=40, stop=(), lookup_tokens=3)
    long, drafted_long = plain.generate([CONV_A, CONV_B]), drafted.generate([CONV_A, CONV_B])
    assert [[c.token_ids for c in g] for g in drafted_long] == [[c.token_ids for c in g] for g in long]
    assert drafted.forwards < 0.6 * plain.forwards, (drafted.forwards, plain.forwards)
    # a batch too large for drafts to be free (LOOKUP_TOKENS_PER_FORWARD) decodes a token a forward
    from searchgym.policies.hf_policy import LOOKUP_TOKENS_PER_FORWARD

    with_drafts = make(copying_model, tokenizer, temperature=0.0, max_new_tokens=8, stop=(), lookup_tokens=3,
                       batch_size=LOOKUP_TOKENS_PER_FORWARD)
    without = make(copying_model, tokenizer, temperature=0.0, max_new_tokens=8, stop=(),
                   batch_size=LOOKUP_TOKENS_PER_FORWARD)
    conversations = [CONV_A, CONV_B] * (LOOKUP_TOKENS_PER_FORWARD // 2)
    assert [[c.token_ids for c in g] for g in with_drafts.generate(conversations)] == [
        [c.token_ids for c in g] for g in without.generate(conversations)]
    assert with_drafts.forwards == without.forwards == 7


def test_lookup_sampling_keeps_the_logprobs_of_a_forward_pass(copying_model, tokenizer):
    """Sampled turns with drafts verified (accepted or refused): each token's log-prob is the policy's own."""
    policy = make(copying_model, tokenizer, temperature=0.7, seed=5, max_new_tokens=16, lookup_tokens=4)
    prompts = [policy.prompt_ids(CONV_A), [9] * 6 + [5, 6, 7] * 3]
    turns = multi_turn(policy, tokenizer, prompts, (2, 2))
    for comp in (c for t in turns for g in t for c in g):
        ref = reference_logprobs(copying_model, comp.prompt_ids, comp.token_ids, 0.7)
        assert torch.allclose(torch.tensor(comp.logprobs), ref, atol=2e-4), (comp.logprobs, ref)
    assert policy.forwards < policy.generated_tokens  # drafts were accepted along the way


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_a_refused_draft_and_its_redraw_sample_the_policys_distribution(tiny_model, tokenizer, top_p):
    """Speculative sampling with a certain draft: keep drafted token d with probability p(d), else draw from p
    without d. Over many rows the next token is distributed as p itself, whichever token is drafted."""
    policy = make(tiny_model, tokenizer, temperature=1.0, top_p=top_p, seed=0)
    logits = torch.log(torch.tensor([0.45, 0.3, 0.15, 0.1]))
    target = torch.tensor([0.45, 0.3, 0.15, 0.1]) if top_p == 1.0 else torch.tensor([0.45, 0.3, 0.15, 0.0]) / 0.9
    rows = 40000
    for drafted_token in (0, 1, 3):
        scores = logits.expand(rows, 1, 4).clone()
        drafted = torch.full((rows, 1), drafted_token)
        accepted, _ = policy._accept(scores, drafted, torch.ones(rows, dtype=torch.long))
        redrawn, _ = policy._sample(scores[:, 0], torch.where(accepted > 0, -1, drafted_token))
        tokens = torch.where(accepted > 0, drafted_token, redrawn)
        freq = torch.bincount(tokens, minlength=4).float() / rows
        assert torch.allclose(freq, target, atol=0.01), (drafted_token, freq, target)
