"""``HFPolicy``: a transformers causal LM as a search agent, with token ids and log-probs for training.

Our own batched decode loop: the prompt of a group encoded once and shared by its branches, per-token
log-probs under the sampling distribution, stops at the end of an action found on token ids, each
row's KV cache kept for its next turn, and (``lookup_tokens``) drafts copied from a row's own context
verified several tokens a forward. See docs/training.md ("HFPolicy").
"""

from __future__ import annotations

import inspect
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from searchgym.policies.fast_decode import MAX_DECODE_QUERY, Bf16Weights, fast_decode, preallocate, verifying
from searchgym.policies.lookup import LookupIndex
from searchgym.policies.policy import Completion, Message

DEFAULT_STOP = ("</search>", "</open>", "</answer>")
# prompt lookup drafts only while a forward's batch of tokens stays below this: on 2 CPU cores (SmolLM2-135M,
# bf16) a forward of 4 rows x 5 tokens cost about what one of 4 x 1 did (drafts: 1.3x the tokens/s), one of
# 16 x 5 twice what 16 x 1 did (no gain); benchmarks/bench_rollout.py --parts episodes --lookup-tokens 0,4
LOOKUP_TOKENS_PER_FORWARD = 24


class _KVEntry:
    """A stored context: its token ids and, per layer, its keys and values (heads, tokens, head_dim)."""

    __slots__ = ("ids", "layers")

    def __init__(self, ids: Any, layers: list[tuple[Any, Any]]) -> None:
        self.ids, self.layers = ids, layers


class HFPolicy:
    """Batched sampling from a causal LM with its chat template (see the module doc)."""

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int = 128, temperature: float = 1.0,
                 top_p: float = 1.0, stop: Sequence[str] = DEFAULT_STOP, seed: int | None = 0,
                 batch_size: int = 16, shared_prefix: bool = True, ignore_stops: bool = False,
                 autocast_bf16: bool = False, reuse_kv: bool = True, kv_store_rows: int | None = None,
                 lookup_tokens: int = 0) -> None:
        """``ignore_stops=True`` makes every row run ``max_new_tokens`` (neither stops nor EOS end it), for
        throughput benchmarks; its completions may then contain EOS ids. ``autocast_bf16`` runs the
        forwards under bf16 autocast: on a CPU that computes bf16 natively (:func:`cpu_has_bf16`) prefill
        is 1.7x faster, and these are the numerics TRL trains with under ``bf16=True``. ``reuse_kv`` keeps
        each row's KV cache for the next turn (module doc), at most ``kv_store_rows`` rows (default
        ``4 * batch_size``). ``lookup_tokens`` > 0 drafts up to that many tokens a row from the row's own context
        (prompt lookup, ``policies.lookup``) and checks them in one forward, on CPU: the same distribution of
        completions (speculative sampling's acceptance rule), fewer forwards where turns copy their context."""
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0 or not 0 < top_p <= 1:
            raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
        if any(not isinstance(s, str) or not s for s in stop):
            raise ValueError(f"stop strings must be non-empty strings, got {stop!r}")
        if not 0 <= lookup_tokens <= MAX_DECODE_QUERY - 1:
            raise ValueError(f"lookup_tokens must be in 0..{MAX_DECODE_QUERY - 1}, got {lookup_tokens}")
        if kv_store_rows is not None and kv_store_rows < 1:
            raise ValueError(f"kv_store_rows must be >= 1, got {kv_store_rows}")
        import torch

        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.temperature, self.top_p = int(max_new_tokens), float(temperature), float(top_p)
        self.stop = tuple(stop)
        self.batch_size = max(1, int(batch_size))
        self.shared_prefix = shared_prefix  # False re-encodes the prompt for every branch (benchmark baseline)
        self.ignore_stops = ignore_stops  # True: every row runs max_new_tokens (throughput benchmarks)
        self.device = next(model.parameters()).device
        self.autocast_bf16 = bool(autocast_bf16)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(0 if seed is None else int(seed))
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        eos = getattr(model.generation_config, "eos_token_id", None) if hasattr(model, "generation_config") else None
        eos = eos if eos is not None else tokenizer.eos_token_id
        self.eos_ids = frozenset(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.generated_tokens = 0  # running count, for budgets and benchmarks
        self.encoded_tokens = 0  # prompt tokens fed through the model in prefill (padding excluded)
        self.reused_tokens = 0  # prompt tokens taken from the KV store instead of being encoded
        self.reuse_kv = bool(reuse_kv)
        self.lookup_tokens = int(lookup_tokens)
        self.forwards = 0  # decode forwards after prefill (one per token, or one per verified draft), for benchmarks
        self.kv_store_rows = int(kv_store_rows) if kv_store_rows is not None else 4 * self.batch_size
        self._kv: OrderedDict[tuple[int, ...], _KVEntry] = OrderedDict()
        self._kv_state: tuple | None = None  # what the stored entries were computed with
        self._kv_supported = True  # False once the model's cache turned out not to be plain DynamicLayers
        self.host_lag: int | None = None  # steps the host reads ids behind the device (None: 1 on CUDA, else 0)
        # transformers >= 5.2x renamed ``past_key_values`` to ``cache``; use whichever the model takes
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        forward_params = inspect.signature(type(base).forward).parameters
        self._cache_kw = "cache" if "cache" in forward_params else "past_key_values"
        self._keep_kw = {"logits_to_keep": 1} if "logits_to_keep" in forward_params else {}
        vocab = int(model.get_output_embeddings().weight.shape[0])
        self._eos_lut = torch.zeros(vocab, dtype=torch.bool)
        for e in self.eos_ids:
            if 0 <= e < vocab:
                self._eos_lut[e] = True
        self._check_lut = self._eos_lut | stop_candidates(tokenizer, self.stop, vocab)
        self._check_ids = frozenset(self._check_lut.nonzero().flatten().tolist())  # host-side, for drafts
        self._eos_lut, self._check_lut = self._eos_lut.to(self.device), self._check_lut.to(self.device)
        self._bf16_weights = Bf16Weights()  # the Linear weights' bf16 copies, for autocast_bf16

    @classmethod
    def from_pretrained(cls, name_or_path: str = "smollm2", *, device: str | None = None, dtype: Any = None,
                        **kwargs: Any) -> HFPolicy:
        """Load a model (``"smollm2"``, HF id or path, via ``resolve_model``); float32 on CPU by default."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from searchgym.models import resolve_model

        path = str(resolve_model(name_or_path))
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
        # transformers types from_pretrained's result so that its nn.Module methods do not bind
        model.to(device or "cpu").eval()  # pyright: ignore[reportArgumentType]
        return cls(model, tokenizer, **kwargs)

    # ------------------------------------------------------------------------------------------
    def prompt_ids(self, conversation: Sequence[Message]) -> list[int]:
        """Token ids of the conversation with the chat template and the assistant generation prompt."""
        return chat_prompt_ids(self.tokenizer, conversation)

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """``n`` sampled completions (next agent turn) for each conversation, in order."""
        return self.generate_ids([self.prompt_ids(c) for c in conversations], n)

    def generate_ids(self, prompts: Sequence[Sequence[int]], n: int = 1) -> list[list[Completion]]:
        """``n`` completions for each token-id prompt, in order; at most ``batch_size`` rows per batch.

        The prompts are used exactly as given (no template, no special tokens added): multi-turn
        rollouts pass the exact ids of the conversation so far.
        """
        import torch

        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        prompts = [[int(t) for t in p] for p in prompts]
        per_call = max(1, self.batch_size // n)  # rows per forward = prompts x n
        hits = self._kv_lookup(prompts)
        was_training = self.model.training
        self.model.eval()
        rows: list[Completion] = []
        try:
            weights = self._bf16_weights if self.autocast_bf16 else None
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                        enabled=self.autocast_bf16), \
                    fast_decode(self.model, weights):
                for start in range(0, len(prompts), per_call):
                    rows.extend(self._decode(prompts[start : start + per_call], n, hits[start : start + per_call]))
        finally:
            if was_training:
                self.model.train()
        return [rows[i * n : (i + 1) * n] for i in range(len(prompts))]

    def clear_kv(self) -> None:
        """Forget every stored KV cache (needed only after weights changed in a way version counters miss)."""
        self._kv.clear()

    # ------------------------------------------------------------------------------------------
    def _kv_signature(self) -> tuple:
        params = [p for p in self.model.parameters() if p.requires_grad] or list(self.model.parameters())
        watched = {id(p): p for p in (params[0], params[-1])}.values()
        return tuple((id(p), p._version) for p in watched), self.autocast_bf16, str(self.device)

    def _kv_lookup(self, prompts: list[list[int]]) -> list[tuple[list[tuple[Any, Any]], int] | None]:
        """For each prompt, the stored entry sharing its longest prefix and how many of its tokens to reuse
        (at most all but the prompt's last token, whose logits are needed); entries used are dropped."""
        import numpy as np

        if not (self.reuse_kv and self._kv_supported):
            self._kv.clear()
            return [None] * len(prompts)
        state = self._kv_signature()
        if state != self._kv_state:
            self._kv.clear()
            self._kv_state = state
        hits: list[tuple[list[tuple[Any, Any]], int] | None] = []
        used: set[tuple[int, ...]] = set()
        for prompt in prompts:
            arr = np.asarray(prompt, dtype=np.int64)
            best, best_len = None, 0
            for key, entry in self._kv.items():
                m = min(len(entry.ids), len(arr))
                if m <= best_len or entry.ids[0] != arr[0]:
                    continue
                diff = np.flatnonzero(entry.ids[:m] != arr[:m])
                common = m if diff.size == 0 else int(diff[0])
                if common > best_len:
                    best, best_len = key, common
            reuse = min(best_len, len(prompt) - 1)
            if best is None or reuse < 1:
                hits.append(None)
                continue
            hits.append((self._kv[best].layers, reuse))
            used.add(best)
        for key in used:  # the rows generated from them extend them
            del self._kv[key]
        return hits

    def _kv_store(self, key: tuple[int, ...], layers: list[tuple[Any, Any]]) -> None:
        import numpy as np

        self._kv[key] = _KVEntry(np.asarray(key, dtype=np.int64), layers)
        self._kv.move_to_end(key)
        while len(self._kv) > self.kv_store_rows:
            self._kv.popitem(last=False)

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any = None) -> tuple[Any, Any]:
        kw = {} if cache is None else {self._cache_kw: cache}
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         **self._keep_kw, **kw)
        return _cache_of(out), out.logits[:, -1, :].float()

    def _prefix_cache(self, hits: list[tuple[list[tuple[Any, Any]], int] | None], kept: list[int]) -> Any:
        """A DynamicCache of each row's first ``kept[i]`` stored tokens, left-padded to the longest."""
        from transformers import DynamicCache

        width = max(kept)
        first = next(h for h, k in zip(hits, kept) if h is not None and k > 0)[0]
        data = []
        for layer, (k0, v0) in enumerate(first):
            keys = k0.new_zeros((len(hits), k0.shape[0], width, k0.shape[-1]))
            values = v0.new_zeros((len(hits), v0.shape[0], width, v0.shape[-1]))
            for i, (hit, k) in enumerate(zip(hits, kept)):
                if hit is not None and k > 0:
                    keys[i, :, width - k :] = hit[0][layer][0][:, :k]
                    values[i, :, width - k :] = hit[0][layer][1][:, :k]
            data.append((keys, values))
        return DynamicCache(ddp_cache_data=data)

    def _decode(self, prompts: list[list[int]], n: int,
                hits: list[tuple[list[tuple[Any, Any]], int] | None] | None = None) -> list[Completion]:
        import torch

        dev, max_new = self.device, self.max_new_tokens
        if hits is None:
            hits = [None for _ in prompts]
        lens = [len(p) for p in prompts]
        # layout: [cached prefix, left-padded to C | last `fed` tokens, left-padded | generated tokens]
        fed = max(length - (h[1] if h is not None else 0) for length, h in zip(lens, hits))
        kept = [max(0, length - fed) if h is not None else 0 for length, h in zip(lens, hits)]
        cached = max(kept)
        width = cached + fed
        ids = torch.full((len(prompts), fed), self.pad_id, dtype=torch.long)
        # prompt lookup (CPU) appends a block of 1 + lookup_tokens columns a forward, rejected drafts masked out
        lookup = self.lookup_tokens > 0 and dev.type == "cpu"
        room = max_new * (1 + self.lookup_tokens) if lookup else max_new
        mask = torch.zeros((len(prompts), width + room), dtype=torch.long)
        mask[:, width:] = 1  # generated tokens are always attended; rows are dropped, never masked
        prompt_cols = []  # cache columns of each prompt's tokens, in order
        for i, p in enumerate(prompts):
            tail = p[len(p) - min(len(p), fed):]
            ids[i, fed - len(tail):] = torch.tensor(tail, dtype=torch.long)
            mask[i, width - len(tail):width] = 1
            mask[i, cached - kept[i]:cached] = 1
            prompt_cols.append(list(range(cached - kept[i], cached)) + list(range(width - len(tail), width)))
        copies = n if not self.shared_prefix and n > 1 else 1
        # rows with the same prompt and the same reused prefix (a trajectory group's G episodes start from
        # one prompt) are encoded once and their cache copied, unless re-encoding is what is measured
        first: dict[tuple, int] = {}
        source = [first.setdefault((tuple(p), k, id(h[0]) if h is not None else None), i)
                  for i, (p, k, h) in enumerate(zip(prompts, kept, hits))]
        unique = list(first.values()) if copies == 1 else list(range(len(prompts)))
        self.encoded_tokens += copies * sum(min(lens[i], fed) for i in unique)
        self.reused_tokens += copies * sum(kept[i] for i in unique)
        cache: Any = self._prefix_cache(hits, kept) if cached > 0 else None
        ids, mask = ids.to(dev), mask.to(dev)
        if copies > 1:  # baseline: every branch encodes its own copy of the prompt
            ids, mask = ids.repeat_interleave(n, 0), mask.repeat_interleave(n, 0)
            if cache is not None:
                cache.batch_repeat_interleave(n)
        positions = (mask[:, :width].cumsum(-1) - 1).clamp(min=0)
        if len(unique) < len(prompts):
            encode = torch.tensor(unique, device=dev)
            if cache is not None:
                cache.batch_select_indices(encode)
            cache, logits = self._forward(ids[encode], mask[encode, :width], positions[encode, cached:], cache)
            copy_of = torch.tensor([unique.index(i) for i in source], device=dev)
            cache.batch_select_indices(copy_of)
            logits = logits[copy_of]
        else:
            cache, logits = self._forward(ids, mask[:, :width], positions[:, cached:], cache)
        if self.shared_prefix and n > 1:  # the n branches share the one encoded prefix
            cache.batch_repeat_interleave(n)
            logits, mask, positions = (t.repeat_interleave(n, 0) for t in (logits, mask, positions))
        keep_kv = self.reuse_kv and self._kv_supported and self._plain_layers(cache)
        cache = preallocate(cache, width + room)
        if lookup:
            return self._lookup_loop(prompts, n, cache, logits, mask, positions[:, -1], width, prompt_cols, keep_kv)
        rows = logits.shape[0]
        pos = positions[:, -1]
        cuda = dev.type == "cuda"
        lag = self.host_lag if self.host_lag is not None else int(cuda)  # CUDA: read step t during t+1's forward
        host_tokens = torch.zeros((rows, max_new), dtype=torch.long)
        length = [max_new] * rows  # final number of kept tokens per row
        ended = [False] * rows
        batch_rows = torch.arange(rows)  # original row of each batch row (host)
        batch_rows_dev = batch_rows.to(dev)
        tok_dev = torch.zeros((rows, max_new), dtype=torch.long, device=dev)
        lp_dev = torch.zeros((rows, max_new), dtype=torch.float32, device=dev)
        pending: list[tuple[int, Any, Any, Any]] = []
        live = rows  # rows not yet ended
        check_lut = torch.zeros_like(self._check_lut) if self.ignore_stops else self._check_lut
        kv_rows: dict[int, list[tuple[Any, Any]]] = {}  # original row -> KV of its context, per layer

        def capture(members: list[tuple[int, int]]) -> None:
            """Copy out the KV of (batch row, original row) pairs: the prompt, then all sampled tokens but
            the last (those were fed; the cache holds at least them when a row is captured)."""
            for j, r in members:
                cols = prompt_cols[r // n] + list(range(width, width + length[r] - 1))
                kv_rows[r] = _row_kv(cache, j, torch.tensor(cols, dtype=torch.long).to(dev, non_blocking=True))

        def settle(step: int, members: Any, packed: Any, event: Any) -> None:
            nonlocal live
            if event is not None:
                event.synchronize()
            toks, flags = packed[0], packed[1]
            host_tokens[members, step] = toks
            for j in flags.nonzero().flatten().tolist():
                r = int(members[j])
                if ended[r]:
                    continue
                tok = int(toks[j])
                if tok in self.eos_ids:
                    ended[r], length[r] = True, step + 1
                elif self._stopped(host_tokens[r, : step + 1].tolist()):
                    ended[r], length[r] = True, step + 1
                else:
                    continue
                live -= 1

        step = 0
        while True:
            nxt, lp = self._sample(logits)
            tok_dev[batch_rows_dev, step] = nxt
            lp_dev[batch_rows_dev, step] = lp
            flags = check_lut[nxt]
            packed = torch.stack([nxt, flags.long()])
            if cuda:
                buf = torch.empty(packed.shape, dtype=packed.dtype, pin_memory=True)
                buf.copy_(packed, non_blocking=True)
                event = torch.cuda.Event()
                event.record()
                pending.append((step, batch_rows, buf, event))
            else:
                pending.append((step, batch_rows, packed, None))
            while len(pending) > lag:
                settle(*pending.pop(0))
            if live == 0 or step + 1 == max_new:
                break
            # drop ended rows once they are a quarter of the batch: the cache copy then pays for itself
            # (every row not ended is in the batch, so the batch holds len(batch_rows) - live ended rows)
            if 4 * (len(batch_rows) - live) >= len(batch_rows):
                members = list(enumerate(batch_rows.tolist()))
                if keep_kv:  # their caches leave the batch now
                    capture([(j, r) for j, r in members if ended[r]])
                keep = torch.tensor([j for j, r in members if not ended[r]])
                keep_dev = keep.to(dev, non_blocking=True)
                cache.batch_select_indices(keep_dev)
                nxt, mask, pos = nxt[keep_dev], mask[keep_dev], pos[keep_dev]
                batch_rows = batch_rows[keep]
                batch_rows_dev = batch_rows_dev[keep_dev]
            pos = pos + 1
            step += 1
            cache, logits = self._forward(nxt[:, None], mask[:, : width + step], pos[:, None], cache)
            self.forwards += 1
        for item in pending:
            settle(*item)
        if keep_kv:
            capture(list(enumerate(batch_rows.tolist())))
        tok_host = tok_dev.cpu()
        lp_host = lp_dev.cpu()
        return self._completions(prompts, n, [tok_host[r, : length[r]].tolist() for r in range(rows)],
                                 [lp_host[r, : length[r]].tolist() for r in range(rows)], kv_rows if keep_kv else None)

    def _lookup_loop(self, prompts: list[list[int]], n: int, cache: Any, logits: Any, mask: Any, pos: Any,
                     width: int, prompt_cols: list[list[int]], keep_kv: bool) -> list[Completion]:
        """The decode loop with prompt-lookup drafts (CPU). Each forward feeds every row its next sampled token and
        up to ``lookup_tokens`` tokens drafted from its own context (``LookupIndex``), and keeps the longest prefix
        of the draft that speculative sampling accepts: a drafted token t is kept with the policy's probability of
        t, and the first one refused is replaced by a draw from the policy's distribution without t, so every
        completion is distributed as plain sampling's (greedy: kept iff it is the argmax). The refused drafts'
        cache columns stay, masked out; ``mask`` has room for a block of columns per generated token."""
        import torch

        drafts_max, max_new = self.lookup_tokens, self.max_new_tokens
        rows = logits.shape[0]
        first: dict[int, LookupIndex] = {}
        indexes = []
        for r in range(rows):  # the n branches of a prompt copy one index of it
            if r // n not in first:
                first[r // n] = LookupIndex(prompts[r // n])
            indexes.append(first[r // n].copy())
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logps: list[list[float]] = [[] for _ in range(rows)]
        cols: list[list[int]] = [[] for _ in range(rows)]  # cache column of each token
        ended = [False] * rows
        batch_rows = list(range(rows))  # original row of each batch row
        kv_rows: dict[int, list[tuple[Any, Any]]] = {}
        col = width  # the next free cache column
        excluded: Any = None

        def take(r: int, tok: int, logp: float, column: int) -> bool:
            """Append one token to row r; True when it ends the row."""
            tokens[r].append(tok)
            logps[r].append(logp)
            cols[r].append(column)
            if len(tokens[r]) >= max_new:
                ended[r] = True
            elif not self.ignore_stops and (tok in self.eos_ids
                                            or (tok in self._check_ids and self._stopped(tokens[r]))):
                ended[r] = True
            return ended[r]

        def capture(members: list[tuple[int, int]]) -> None:
            for j, r in members:  # every token but the last was fed, so the cache holds it
                kv_rows[r] = _row_kv(cache, j, torch.tensor(prompt_cols[r // n] + cols[r][:-1], dtype=torch.long))

        while True:
            nxt, nxt_logp = self._sample(logits, excluded)
            for r, tok, logp in zip(batch_rows, nxt.tolist(), nxt_logp.tolist()):
                if ended[r] or take(r, tok, logp, col):
                    continue
                indexes[r].extend([tok])
            if all(ended[r] for r in batch_rows):
                break
            done = sum(ended[r] for r in batch_rows)
            if 4 * done >= len(batch_rows):  # as in _decode: drop ended rows once they are a quarter of the batch
                members = list(enumerate(batch_rows))
                if keep_kv:
                    capture([(j, r) for j, r in members if ended[r]])
                keep = torch.tensor([j for j, r in members if not ended[r]])
                cache.batch_select_indices(keep)
                nxt, mask, pos = nxt[keep], mask[keep], pos[keep]
                batch_rows = [batch_rows[j] for j in keep.tolist()]
            # drafts only where verifying them is nearly free: a forward costs about as much for a few tokens a row
            # as for one until the batch's tokens make it compute-bound (LOOKUP_TOKENS_PER_FORWARD)
            room = min(drafts_max, max(0, LOOKUP_TOKENS_PER_FORWARD // len(batch_rows) - 1))
            drafts = [indexes[r].draft(min(room, max_new - len(tokens[r]))) if room and not ended[r] else []
                      for r in batch_rows]
            block = 1 + max(len(d) for d in drafts)
            lengths = torch.tensor([len(d) for d in drafts])
            drafted = torch.full((len(drafts), block - 1), self.pad_id, dtype=torch.long)
            for j, d in enumerate(drafts):
                if d:
                    drafted[j, : len(d)] = torch.tensor(d, dtype=torch.long)
            mask[:, col : col + block] = 1
            positions = pos[:, None] + 1 + torch.arange(block)
            last_logits = {"logits_to_keep": block} if self._keep_kw else {}
            with verifying():
                out = self.model(input_ids=torch.cat([nxt[:, None], drafted], 1), attention_mask=mask[:, : col + block],
                                 position_ids=positions, use_cache=True, **{self._cache_kw: cache}, **last_logits)
            self.forwards += 1
            cache, scores = _cache_of(out), out.logits[:, -block:].float()  # (rows, block, vocab)
            rows_now = torch.arange(len(batch_rows))
            if block == 1:
                accepted, excluded = torch.zeros(len(batch_rows), dtype=torch.long), None
            else:
                accepted, draft_logps = self._accept(scores[:, :-1], drafted, lengths)
                for j, (r, count, lps) in enumerate(zip(batch_rows, accepted.tolist(), draft_logps.tolist())):
                    for i in range(count):
                        if ended[r] or take(r, drafts[j][i], lps[i], col + 1 + i):
                            break
                    if not ended[r]:
                        indexes[r].extend(drafts[j][:count])
                mask[:, col + 1 : col + block] *= (torch.arange(block - 1)[None] < accepted[:, None]).long()
                refused = accepted < lengths
                excluded = torch.where(refused, drafted[rows_now, accepted.clamp(max=block - 2)], -1)
            logits = scores[rows_now, accepted]
            pos = pos + 1 + accepted
            col += block
        if keep_kv:
            capture(list(enumerate(batch_rows)))
        return self._completions(prompts, n, tokens, logps, kv_rows if keep_kv else None)

    def _completions(self, prompts: list[list[int]], n: int, tokens: list[list[int]], logps: list[list[float]],
                     kv_rows: dict[int, list[tuple[Any, Any]]] | None) -> list[Completion]:
        """Row r's completion of prompt ``r // n``, counted in ``generated_tokens``; with ``kv_rows`` (the KV of
        each row's context, every token but the last) stored for the row's next turn."""
        results = []
        for r, (ids, lps) in enumerate(zip(tokens, logps)):
            token_ids = tuple(ids)
            self.generated_tokens += len(token_ids)
            prompt = tuple(prompts[r // n])
            results.append(Completion(self.tokenizer.decode(token_ids, skip_special_tokens=True), prompt, token_ids,
                                      tuple(lps)))
            if kv_rows is not None:
                self._kv_store(prompt + token_ids[:-1], kv_rows[r])
        return results

    def _accept(self, scores: Any, drafted: Any, lengths: Any) -> tuple[Any, Any]:
        """Speculative sampling's acceptance for drafts proposed with certainty: per row, how many leading drafted
        tokens are kept (token i with probability p_i(token), ``scores[:, i]`` being the policy's logits where it
        stands), and every drafted token's log-probability under the sampling distribution."""
        import torch

        if self.temperature == 0:
            logp = torch.log_softmax(scores, dim=-1)
            keep = scores.argmax(-1) == drafted
        else:
            logp = torch.log_softmax(scores / self.temperature, dim=-1)
            probs = self._target(logp.exp())
            chance = probs.gather(-1, drafted[..., None]).squeeze(-1)
            keep = torch.rand(chance.shape, generator=self.generator, device=chance.device) < chance
        keep &= torch.arange(drafted.shape[1], device=drafted.device)[None] < lengths[:, None]
        accepted = keep.long().cumprod(-1).sum(-1)
        return accepted, logp.gather(-1, drafted[..., None]).squeeze(-1)

    def _target(self, probs: Any) -> Any:
        """The distribution sampled from: ``probs`` cut to the top-p nucleus and renormalised, or as they are."""
        import torch

        if self.top_p >= 1.0:
            return probs
        sorted_p, order = probs.sort(dim=-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < self.top_p  # always keeps the most likely token
        cut = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
        return cut / cut.sum(-1, keepdim=True)

    def _plain_layers(self, cache: Any) -> bool:
        """Whether every layer of the cache is a full-attention DynamicLayer (what the KV store can rebuild)."""
        from transformers.cache_utils import DynamicLayer

        layers = getattr(cache, "layers", None)
        if not layers or any(type(layer) is not DynamicLayer for layer in layers):
            self._kv_supported = False
            self._kv.clear()
        return self._kv_supported

    def _stopped(self, token_ids: list[int]) -> bool:
        text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        return any(s in text for s in self.stop)

    def _sample(self, logits: Any, excluded: Any = None) -> tuple[Any, Any]:
        """A token a row and its log-probability under the sampling distribution; ``excluded`` (a token a row, -1
        for none) is left out of the draw (a refused draft: what speculative sampling draws from then)."""
        import torch

        drop = None  # (rows, tokens) to leave out
        if excluded is not None:
            which = (excluded >= 0).nonzero().flatten()
            if len(which):
                drop = (which, excluded[which])
        if self.temperature == 0:
            logp = torch.log_softmax(logits, dim=-1)
            choose = logits
            if drop is not None:
                choose = logits.clone()
                choose[drop] = float("-inf")
            nxt = choose.argmax(dim=-1)
            return nxt, logp.gather(-1, nxt[:, None]).squeeze(-1)
        logp = torch.log_softmax(logits / self.temperature, dim=-1)
        probs = self._target(logp.exp())
        if drop is not None:
            rest = probs.clone()
            rest[drop] = 0.0
            # a row whose whole mass was the refused token (it can be refused by rounding) draws it after all
            probs = torch.where(rest.sum(-1, keepdim=True) > 0, rest, probs)
        # inverse CDF: one uniform draw a row; torch.multinomial draws one exponential per vocabulary entry
        # (6 ms a step for 8 rows x 49k tokens on CPU, more than the attention of a small model)
        cdf = probs.cumsum(-1)
        draw = torch.rand((probs.shape[0], 1), generator=self.generator, device=probs.device) * cdf[:, -1:]
        nxt = torch.searchsorted(cdf, draw, right=True).clamp_(max=probs.shape[-1] - 1)
        # a draw rounded up to the total can land past the last kept token: take the likeliest then
        nxt = torch.where(probs.gather(-1, nxt) > 0, nxt, probs.argmax(-1, keepdim=True)).squeeze(-1)
        return nxt, logp.gather(-1, nxt[:, None]).squeeze(-1)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_CANDIDATES: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()


def stop_candidates(tokenizer: Any, stops: Sequence[str], vocab: int) -> Any:
    """Bool mask over token ids: the tokens at which a stop string can first appear in decoded text.

    Appending a token appends its text (for byte-level BPE: its bytes), so a stop string that was
    not in the text before first appears at a token that supplies the stop's last character, or,
    when that character is not complete in one token, at a token whose text alone is an incomplete
    UTF-8 sequence (decoded as U+FFFD). Special tokens decode to nothing and are never candidates.
    """
    try:  # decoding the whole vocabulary takes a second: once per tokenizer and stop set
        memo = _CANDIDATES.setdefault(tokenizer, {})
    except TypeError:  # an object without weak references: no memo
        memo = {}
    key = (tuple(stops), int(vocab))
    if key not in memo:
        memo[key] = _stop_candidates(tokenizer, stops, vocab)
    return memo[key].clone()


def _stop_candidates(tokenizer: Any, stops: Sequence[str], vocab: int) -> Any:
    import torch

    mask = torch.zeros(vocab, dtype=torch.bool)
    lasts = {s[-1] for s in stops}
    if not lasts:
        return mask
    if any(c.isspace() for c in lasts):  # a token's leading space may not show when decoded alone
        mask[:] = True
        return mask
    n = min(vocab, len(tokenizer))
    pieces = tokenizer.batch_decode([[i] for i in range(n)], skip_special_tokens=False,
                                    clean_up_tokenization_spaces=False)
    special = set(getattr(tokenizer, "all_special_ids", ()))
    for i, piece in enumerate(pieces):
        if i not in special and ("\ufffd" in piece or any(c in piece for c in lasts)):
            mask[i] = True
    return mask


def _row_kv(cache: Any, row: int, columns: Any) -> list[tuple[Any, Any]]:
    """Batch row ``row``'s keys and values at cache ``columns``, per layer: what ``_kv_store`` keeps of a turn."""
    return [(layer.keys[row].index_select(-2, columns), layer.values[row].index_select(-2, columns))
            for layer in cache.layers]


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def chat_prompt_ids(tokenizer: Any, conversation: Sequence[Message]) -> list[int]:
    """Token ids of a conversation with the chat template and the assistant generation prompt."""
    text = tokenizer.apply_chat_template(list(conversation), tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to and including the earliest stop string (unchanged when none occurs)."""
    ends = [text.find(s) + len(s) for s in stops if s in text]
    return text[: min(ends)] if ends else text


__all__ = ["DEFAULT_STOP", "HFPolicy", "chat_prompt_ids", "cpu_has_bf16", "cut_at_stop", "stop_candidates"]
