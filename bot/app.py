"""The composition root: the one module that knows every concrete class.

It opens storage and the knowledge base, builds the model router, the delivery engine per
adapter, the conversation core and the HTTP server, and loads the platform adapters whose
credentials are configured (`bot.platforms`).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import metrics
from bot.adapter import Adapter, HttpMounted, RoleDirectory
from bot.clock import Clock, MonotonicClock
from bot.core.access import Access
from bot.core.actions import ActionRouter
from bot.core.commands import Commands
from bot.core.followups import FollowupPolicy
from bot.core.memory import Budget, Memory
from bot.core.pipeline import Pipeline
from bot.core.queues import ConversationQueues
from bot.core.quota_limits import QuotaLimits, parse_rate
from bot.core.quotas import Quotas
from bot.core.turn import TurnRunner
from bot.core.usage_report import UsageReports
from bot.delivery import Delivery
from bot.delivery.splitting import close_open_fence
from bot.errors import ParleyError
from bot.http import HttpServer, build_http_app
from bot.kb_wiring import build_reindexer, schedule_reindex, serve_reindex_requests, source_policy
from bot.llm.types import ChatMessage, ChatModel
from bot.logs import get_logger, register_secrets
from bot.messages import OutgoingMessage
from bot.platforms import configured_platforms, load_adapter, secret_values
from bot.ports import ConversationStore, ProgressCallback, ReindexSummary
from bot.redaction import Redactor
from bot.refs import Author, ConversationRef, MessageHandle
from bot.settings import Settings
from bot.usage.meter import MeteredModel
from bot.usage.periods import Now, utc_now
from bot.usage.prices import PriceTable

if TYPE_CHECKING:
    from bot.core.kb_runs import ReindexRunner
    from bot.scheduling import JobScheduler
    from bot.tools.host import ApprovingToolHost
    from knowledge import KnowledgeBase
    from storage import SqlStore
    from storage.recovery import WorkerLease

log = get_logger(__name__)

RETENTION_TASK = "retention-purge"
INTERRUPTED_NOTICE = "⚠️ _This answer was interrupted (Parley restarted); please ask again._"


class Parley:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        wall: Now | None = None,
        chat_model: ChatModel | None = None,
        adapters: Sequence[Adapter] = (),
        load_platforms: bool = True,
        knowledge: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock or MonotonicClock()
        self.wall = wall or utc_now
        """Wall time (UTC) for usage records, reports and daily budgets."""
        self._chat_model = chat_model
        self._extra_adapters = list(adapters)
        self._load_platforms = load_platforms
        self._want_knowledge = knowledge
        self.queues = ConversationQueues()
        metrics.ACTIVE_CONVERSATIONS.set_function(lambda: self.queues.active)
        metrics.QUEUED_JOBS.set_function(lambda: self.queues.queued)
        self.adapters: dict[str, Adapter] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.store: SqlStore = None  # type: ignore[assignment]  # set by start()
        self.knowledge: KnowledgeBase | None = None
        self.http: HttpServer | None = None
        self.pipeline: Pipeline | None = None
        self.runner: TurnRunner | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.tools: ApprovingToolHost | None = None
        self._indexed = asyncio.Event()
        self._knowledge_roots: list[Path] = []
        self.index_progress: ProgressCallback | None = None
        """Called with the first index's progress (the console's start-up line)."""
        self._lease: WorkerLease | None = None
        self.reindexer: ReindexRunner | None = None
        """Every reindex goes through it, under the database lease (bot.core.kb_runs)."""
        self.jobs: JobScheduler | None = None
        self.draining = False
        """Shutting down: not ready, no new events (`bot.shutdown`)."""

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, http: bool = True) -> None:
        settings = self.settings
        register_secrets(secret_values(settings))
        from bot.core.privacy import PrivacyCommands
        from bot.scheduling import JobScheduler
        from storage import open_store
        from storage.audit import SqlAuditLog
        from storage.jobs import SqlJobRuns
        from storage.privacy import SqlPrivacy
        from storage.usage import SqlUsageLedger

        self.store = await open_store(settings.sqlalchemy_url)
        store: ConversationStore = self.store
        self.jobs = JobScheduler(
            settings.sqlalchemy_url, claims=SqlJobRuns(self.store.db, self.store.worker_id)
        )
        if self._want_knowledge:
            await self._open_knowledge()
        else:
            self._indexed.set()
        chat_model = self._chat_model = self._chat_model or self._build_chat_model()
        self.redactor = Redactor.create(
            secret_values(settings),
            patterns=settings.redact_patterns,
            builtin=settings.redact_builtin,
        )
        self.tools = self._build_tool_host()
        for adapter in self._extra_adapters:
            self.adapters[adapter.name] = adapter
        if self._load_platforms:
            for name in configured_platforms(settings):
                self.adapters[name] = load_adapter(name, settings)
        for name, adapter in self.adapters.items():
            self.deliveries[name] = Delivery(
                adapter,
                clock=self.clock,
                native_streaming=bool(adapter.capabilities.native_stream),
                first_post_wait_s=settings.first_post_wait_s,
                redactor=self.redactor,
            )
        privacy = PrivacyCommands(SqlPrivacy(self.store.db), scheduler=self.tools.scheduler)
        access = Access(
            settings.admin_users,
            {n: a for n, a in self.adapters.items() if isinstance(a, RoleDirectory)},
        )
        prices, ledger = PriceTable(settings.llm_prices), SqlUsageLedger(self.store.db)
        metered = MeteredModel(chat_model, store, prices, now=self.wall)  # a record per call
        self.runner = TurnRunner(
            settings=settings,
            store=store,
            memory=Memory(store, Budget.from_settings(settings), metered),
            chat_model=metered,
            clock=self.clock,
            retriever=self.knowledge,
            tool_host=self.tools,
            redactor=self.redactor,
            quotas=Quotas(
                defaults=quota_limits(settings),
                overrides=settings.quota_overrides,
                ledger=ledger,
                is_admin=access.is_admin,
                clock=self.clock,
                wall=self.wall,
                admins_exempt=settings.quota_admins_exempt,
            ),
        )
        commands = Commands(
            store=store,
            access=access,
            clock=self.clock,
            knowledge=self.knowledge,
            tool_host=self.tools,
            audit=SqlAuditLog(self.store.db),  # shares the write lock
            kb_runs=self.reindexer,
            kb_policy=source_policy(settings),
            privacy=privacy,
            usage_reports=UsageReports(ledger, prices, now=self.wall),
        )
        actions = ActionRouter()
        actions.register("approve", self.tools.on_click)
        actions.register("deny", self.tools.on_click)
        if commands.kb is not None:
            actions.register("cancel", commands.kb.on_click)
        for action_id in ("forget-me", "forget-me-cancel"):
            actions.register(action_id, privacy.on_click)

        async def has_memory(memory_key: str) -> bool:
            return bool(await store.history(memory_key, limit=1))

        self.pipeline = Pipeline(
            per_minute=settings.user_messages_per_minute,
            queues=self.queues,
            runner=self.runner,
            commands=commands,
            actions=actions,
            followups=FollowupPolicy(
                enabled=settings.thread_followups,
                overrides=settings.followup_overrides,
                has_memory=has_memory,
            ),
            adapters=self.adapters,
            deliveries=self.deliveries,
            clock=self.clock,
            claim=store.claim_event,
        )
        await self.tools.start(self.deliveries)  # re-arm expiry timers, sweep expired ones
        self._start_jobs()
        if http:
            app = build_http_app(self._readiness, draining=lambda: self.draining)
            for adapter in self.adapters.values():
                if isinstance(adapter, HttpMounted):
                    adapter.mount(app)
            self.http = HttpServer(app, settings.host, settings.port)
            await self.http.start()
            log.info("http server listening", port=self.http.port)
        self._spawn(self._housekeeping())
        for adapter in self.adapters.values():
            await adapter.start(self.pipeline)
            log.info("adapter started", adapter=adapter.name)
        await self._start_lease()
        # What exists now (modules, SDK clients, engines, settings) lives as long as the process.
        # Frozen, the collector never walks it again: a full collection then pauses every
        # answer in flight for a few ms instead of 100+ (measured by `make bench`).
        gc.freeze()

    async def shutdown(self, grace_s: float) -> None:
        """SIGTERM: stop taking events, let answers in progress finish or finalize them within
        `grace_s`, then stop (`bot.shutdown` says how)."""
        from bot.shutdown import drain

        self.begin_shutdown()
        log.info("shutting down", grace_s=grace_s, jobs=self.queues.queued)
        cancelled = await drain(self.queues, clock=self.clock, grace_s=grace_s)
        await self.stop()
        log.info("shut down", finalized=cancelled)

    def begin_shutdown(self) -> None:
        """Not ready from now on, and no new events."""
        self.draining = True
        if self.pipeline is not None:
            self.pipeline.close()

    async def stop(self) -> None:
        """Stop now: what still runs is cancelled (each reply finalized with a notice, while
        the platform connections are still open), then every connection is closed."""
        gc.unfreeze()
        self.begin_shutdown()
        if self.reindexer is not None:  # before the adapters, so its progress message says so
            await self.reindexer.close()
        await self.queues.close()
        if self._lease is not None:
            try:
                await self._lease.retire()
            except Exception as exc:
                log.warning("could not give up the worker lease", error=str(exc))
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter stop failed", adapter=adapter.name)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.http is not None:
            await self.http.stop()
        if self.knowledge is not None:
            await self.knowledge.close()
        if self.tools is not None:
            await self.tools.close()
        if self.jobs is not None:
            self.jobs.shutdown()
        close_model = getattr(self._chat_model, "aclose", None)
        if close_model is not None:
            await close_model()  # SDK HTTP clients, before the loop goes away
        if self.store is not None:
            await self.store.close()

    async def settled(self) -> None:
        """Wait until every conversation has finished its queued work, and every reindex a
        command started has ended."""
        await self.queues.drain()
        if self.reindexer is not None:
            await self.reindexer.idle()

    async def wait_indexed(self) -> None:
        await self._indexed.wait()

    @property
    def http_port(self) -> int:
        assert self.http is not None, "the HTTP server is not running"
        return self.http.port

    # --- wiring -------------------------------------------------------------------------------
    def _build_chat_model(self) -> ChatModel:
        from bot.llm.router import build_chat_model

        return build_chat_model(self.settings, clock=self.clock)

    def _build_tool_host(self) -> ApprovingToolHost:
        from bot.tools.build import build_tool_host
        from bot.tools.builtin.schedule import MessageScheduler
        from storage.approvals import SqlApprovalStore

        return build_tool_host(
            self.settings,
            store=SqlApprovalStore(self.store.db),  # shares the write lock
            retriever=self.knowledge,
            resumer=self,
            clock=self.clock,
            scheduler=MessageScheduler(self.jobs) if self.jobs is not None else None,
        )

    def _start_jobs(self) -> None:
        """Start the shared scheduler and make sure the daily retention purge and the scheduled
        reindex (REINDEX_INTERVAL_MINUTES) are in it."""
        from bot.scheduling import register_task
        from storage.retention import SqlRetention

        assert self.jobs is not None
        settings = self.settings
        retention = SqlRetention(
            self.store.db, days=settings.retention_days, audit_days=settings.audit_retention_days
        )

        async def purge() -> str:
            report = await retention.purge(datetime.now(UTC))
            log.info("retention purge", report=report.render())
            return report.render()

        register_task(RETENTION_TASK, purge)
        self.jobs.start()
        self.jobs.ensure_daily(
            RETENTION_TASK,
            task=RETENTION_TASK,
            name="Purge conversations past RETENTION_DAYS, records past AUDIT_RETENTION_DAYS",
            hour=3,
            minute=0,
        )
        if self.reindexer is not None:
            schedule_reindex(self.jobs, self.reindexer, settings.reindex_interval_minutes)

    async def _open_knowledge(self) -> None:
        try:
            from knowledge import default_paths, open_knowledge_base

            kb = self.knowledge = await open_knowledge_base(self.settings, schedule=False)
            self._knowledge_roots = [Path(p) for p in default_paths(self.settings)]
            reindexer = self.reindexer = build_reindexer(
                kb, self.store.db, self.clock, self._knowledge_roots
            )
        except ParleyError:
            # A bad EMBEDDING_MODEL / KNOWLEDGE_SCOPES, Qdrant unreachable or its local index
            # locked at start-up: stop like any other configuration error (an outage that
            # starts later is reported per answer and the bot keeps answering).
            raise
        except Exception as exc:
            log.error("knowledge base unavailable; answering without it", error=str(exc))
            self._indexed.set()
            return

        shown = self.index_progress

        def progress(info: dict[str, float]) -> None:
            metrics.reindex_progress(info)
            if shown is not None:
                shown(info)

        async def index() -> None:
            try:
                summary = await reindexer.run([], actor="start-up", progress=progress)
                if isinstance(summary, ReindexSummary):
                    metrics.reindex_finished(
                        errors=len(summary.failed), failed=bool(summary.failure)
                    )
            except Exception as exc:
                log.error("initial indexing failed", error=str(exc))
            finally:
                self._indexed.set()

        self._spawn(index())
        if self.settings.qdrant_url is None:
            # This process holds the local index, so `kb reindex` asks it to do the work.
            self._spawn(serve_reindex_requests(self.settings, reindexer))

    async def _housekeeping(self) -> None:
        """Hourly housekeeping: forget processed event ids past their retention, so dedupe stays
        small (replies a dead process left are closed by `_start_lease`'s heartbeat)."""
        retention = timedelta(hours=self.settings.event_retention_hours)
        while True:
            try:
                removed = await self.store.prune_events(before=datetime.now(UTC) - retention)
                if removed:
                    log.info("pruned processed events", removed=removed)
            except Exception as exc:
                log.warning("pruning processed events failed", error=str(exc))
            await self.clock.sleep(3600)

    async def _start_lease(self) -> None:
        """Take this worker's lease and, at once, close what dead workers left streaming."""
        from storage.recovery import HEARTBEAT_S, WorkerLease

        self._lease = lease = WorkerLease(self.store.db, self.store.worker_id)
        await lease.heartbeat()
        await self._recover(lease)

        async def keep() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_S)  # real time: the lease is seen by other workers
                try:
                    await lease.heartbeat()
                    await self._recover(lease)
                except Exception as exc:
                    log.warning("worker heartbeat failed", error=str(exc))

        self._spawn(keep())

    async def _recover(self, lease: WorkerLease) -> None:
        """Finalize each reply a gone worker left half-written, on its platform, with a notice."""
        for orphan in await lease.reclaim():
            delivery = self.deliveries.get(orphan.ref.platform)
            log.info("closing an interrupted reply", row=orphan.row, posted=bool(orphan.message_id))
            if delivery is None or not orphan.message_id:
                continue
            shown = close_open_fence(orphan.text.rstrip())
            text = f"{shown}\n\n{INTERRUPTED_NOTICE}" if shown else INTERRUPTED_NOTICE
            handle = MessageHandle(ref=orphan.ref, message_id=orphan.message_id)
            try:
                await delivery.update(handle, OutgoingMessage.text(text))
            except Exception as exc:
                log.warning("could not finalize an interrupted reply", error=str(exc))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        if self.draining:
            checks["shutdown"] = "draining"
        try:
            await self.store.history("__readyz__", limit=1)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc.__class__.__name__}"
        if self.knowledge is not None:
            checks["knowledge"] = "ok" if self._indexed.is_set() else "indexing"
        for name in self.adapters:
            checks[f"adapter:{name}"] = "ok"
        return checks

    async def resume(
        self,
        ref: ConversationRef,
        author: Author,
        messages: Sequence[ChatMessage],
        *,
        turn_id: str,
        step: int,
    ) -> None:
        """TurnResumer: continue a paused turn in its conversation's queue."""
        assert self.runner is not None
        runner, delivery = self.runner, self.deliveries[ref.platform]
        self.queues.submit(
            ref.memory_key,
            lambda: runner.resume(ref, author, messages, delivery, turn_id=turn_id, step=step),
        )


def quota_limits(settings: Settings) -> QuotaLimits:
    """The QUOTA_* defaults (QUOTA_OVERRIDES replaces them per workspace)."""
    return QuotaLimits(
        user_requests=parse_rate(settings.quota_user_requests),
        channel_requests=parse_rate(settings.quota_channel_requests),
        user_tokens_per_day=settings.quota_user_tokens_per_day,
        channel_tokens_per_day=settings.quota_channel_tokens_per_day,
        concurrent_per_user=settings.quota_concurrent_per_user,
    )
