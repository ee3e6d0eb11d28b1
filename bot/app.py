"""Application wiring: the PTB Application, its handlers, its services and its lifecycle.
BOT_COMMANDS is re-exported from handlers.menu for callers of the old place."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import event
from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.config import Settings
from bot.core.crypto import Cipher
from bot.core.db import DATABASE_ERRORS, create_engine, create_session_factory
from bot.core.i18n import LANGUAGES, gettext_for
from bot.services.ask.feedback import FeedbackService
from bot.services.ask.gaps import GapService
from bot.services.error_summary import ErrorSummaries
from bot.services.report.reports import ReportService
from bot.services.review.access import AccessService
from bot.services.review.export import ExportService
from bot.services.review.notify import VolunteerNotifier
from bot.services.review.stats import StatsService
from bot.services.review.workflow import ReviewService
from bot.services.users import UserDirectory, user_language
from bot.telegram.context import JiynApplication, JiynContext, Services
from bot.telegram.http import (
    RetryPolicy,
    TelegramLimits,
    TelegramRateLimiter,
    make_get_updates_request,
    make_request,
)
from bot.telegram.jiyn_bot import JiynBot
from bot.telegram.metrics import Metrics
from bot.telegram.outage import TelegramOutage
from bot.telegram.outbox import Outbox
from bot.telegram.persistence import DatabasePersistence
from bot.telegram.processing import ChatOrderedUpdateProcessor
from handlers.ask import inline, questions, rights, venues
from handlers.common import errors, fallback, language, middleware, my_data, start
from handlers.common import jobs as common_jobs
from handlers.common.places import town_name
from handlers.menu import BOT_COMMANDS
from handlers.report import conversation as report
from handlers.report import jobs as report_jobs
from handlers.review import cards as review
from handlers.review import jobs as review_jobs
from handlers.review import queue as review_queue
from handlers.review import relay as review_relay
from handlers.review import reports as review_reports
from handlers.review import team as review_team
from handlers.review import typed_input as review_input
from knowledge.loader import load_knowledge

log = logging.getLogger(__name__)

async def register_commands(application: JiynApplication) -> None:
    """Register the command list in every language, and the default one (all at once: each
    call is a round trip before the bot starts answering)."""
    settings: Settings = application.bot_data["services"].settings

    async def register(language_code: str | None) -> None:
        _ = gettext_for(language_code or settings.default_language)
        commands = [BotCommand(name, _(description)) for name, description in BOT_COMMANDS]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=language_code
        )

    await asyncio.gather(*(register(code) for code in (*LANGUAGES, None)))


async def _register_commands_or_warn(application: JiynApplication) -> None:
    """The command list, unless Telegram is not answering (then it stays as registered by the
    last start: serving must not wait for the menu)."""
    try:
        await register_commands(application)
    except NetworkError as error:
        if isinstance(error, BadRequest):
            raise
        log.warning("command list not registered: Telegram is not answering")


async def _post_init(application: JiynApplication) -> None:
    services: Services = application.bot_data["services"]
    await asyncio.gather(_register_commands_or_warn(application), services.initialize())
    settings = services.settings
    if settings.volunteer_chat_id is not None and services.outbox is not None:

        def city_name(city: str, language: str) -> str:
            return town_name(language, city)

        async def send(chat_id: int, text: str) -> object:
            return await application.bot.send_message(chat_id, text, parse_mode="HTML")

        services.notifier = VolunteerNotifier(
            services.sessions,
            services.outbox,
            send,
            settings.volunteer_chat_id,
            settings.default_language,
            settings.timezone,
            city_name,
        )
        await services.notifier.initialize()
    # Scheduled work of each journey (the order they were always registered in).
    report_jobs.schedule(application)
    common_jobs.schedule(application)
    review_jobs.schedule(application)


async def _post_stop(application: JiynApplication) -> None:
    services: Services = application.bot_data["services"]
    await services.shutdown()


async def _post_shutdown(application: JiynApplication) -> None:
    await application.bot_data["services"].engine.dispose()


def add_handlers(application: JiynApplication) -> None:
    """Register every handler in order; the first matching handler of a group wins."""
    private = filters.ChatType.PRIVATE
    application.add_handler(
        MessageHandler(filters.UpdateType.EDITED, middleware.ignore_edit), group=-2
    )
    application.add_handler(TypeHandler(Update, middleware.load_user), group=-1)

    # The report conversation comes first: while a report is being written, its answers are
    # not questions for the knowledge base.
    application.add_handler(report.report_conversation())
    # Personal journeys only in the private chat: in a group they would show who reported.
    application.add_handler(CommandHandler("cancel", report.cancel_report, private))
    application.add_handler(CommandHandler("myreports", my_data.list_reports, private))
    application.add_handler(CommandHandler("forget", my_data.ask_forget, private))
    application.add_handler(
        CallbackQueryHandler(my_data.confirm_forget, pattern=my_data.FORGET_PATTERN)
    )
    # Volunteer review. Typed answers to review and relay buttons run in an earlier group than
    # everything else, so a waiting question gets the text before any conversation or question.
    application.add_handler(
        MessageHandler(
            filters.TEXT & private & ~filters.UpdateType.EDITED, review_input.take_typed_answer
        ),
        group=review_input.INPUT_GROUP,
    )
    application.add_handler(
        CallbackQueryHandler(review_input.drop_question_on_button), group=review_input.INPUT_GROUP
    )
    application.add_handler(
        CommandHandler(
            "start", review_team.accept_invite, filters.Regex(review_team.INVITE_PATTERN)
        )
    )
    application.add_handler(CommandHandler("queue", review_queue.show_queue))
    application.add_handler(CommandHandler("stats", review_reports.show_stats))
    application.add_handler(CommandHandler("export", review_reports.ask_export))
    application.add_handler(CommandHandler("volunteer", review_team.manage_volunteers))
    application.add_handler(CommandHandler("invite", review_team.create_invite))
    application.add_handler(
        CallbackQueryHandler(review.press_card_button, pattern=review.CARD_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(review.choose_outcome, pattern=review.OUTCOME_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(review_queue.browse_queue, pattern=review_queue.QUEUE_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(review_queue.pick_city, pattern=review_queue.CITY_PICKER_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(
            review_relay.ask_message_to_reporter, pattern=review_relay.WRITE_PATTERN
        )
    )
    application.add_handler(
        CallbackQueryHandler(review_relay.ask_reply, pattern=review_relay.REPLY_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(review_reports.export_period, pattern=review_reports.EXPORT_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(review_reports.show_stats, pattern=review_reports.STATS_PATTERN)
    )
    application.add_handler(CommandHandler("start", start.show_start))
    application.add_handler(CommandHandler("help", start.show_help))
    application.add_handler(CommandHandler("language", language.ask_language))
    application.add_handler(
        CallbackQueryHandler(language.ask_language, pattern=language.MENU_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(language.set_language, pattern=language.SET_PATTERN)
    )
    application.add_handler(CommandHandler("venues", venues.ask_city))
    application.add_handler(CommandHandler("rights", rights.show_rights))
    application.add_handler(
        CallbackQueryHandler(rights.prompt_question, pattern=rights.ASK_PATTERN)
    )
    application.add_handler(CallbackQueryHandler(venues.ask_city, pattern=venues.MENU_PATTERN))
    application.add_handler(CallbackQueryHandler(rights.show_rights, pattern=rights.MENU_PATTERN))
    application.add_handler(
        CallbackQueryHandler(venues.show_city, pattern=venues.CITY_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(questions.show_article, pattern=questions.SHOW_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(questions.show_sources, pattern=questions.SOURCES_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(questions.record_vote, pattern=questions.VOTE_PATTERN)
    )
    application.add_handler(InlineQueryHandler(inline.answer_inline))
    # Edits of a location are a live location moving: not a new request each time.
    application.add_handler(
        MessageHandler(filters.LOCATION & private & ~filters.UpdateType.EDITED, venues.show_nearest)
    )
    application.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & private & ~filters.UpdateType.EDITED,
            questions.answer_text,
        )
    )

    application.add_handler(
        MessageHandler(filters.COMMAND & private, fallback.reply_unknown_command)
    )
    application.add_handler(CallbackQueryHandler(fallback.answer_stale_button))
    application.add_handler(
        MessageHandler(private & ~filters.UpdateType.EDITED, fallback.reply_unsupported_message)
    )
    application.add_error_handler(errors.handle_error)


def build_application(
    settings: Settings, *, token: str | None = None, rate_limits: TelegramLimits | None = None
) -> JiynApplication:
    """The Application for these settings, talking to settings.api_base_url; `rate_limits`
    replaces Telegram's published limits (benchmarks lift them)."""
    bot_token = token or settings.bot_token
    if not bot_token:
        raise ValueError("a bot token is needed to build the Application")
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    cipher = Cipher(settings.encryption_keys)
    reports = ReportService(sessions, cipher)
    metrics = Metrics()
    # Every failed statement, whoever caught it (many callers answer without the database).
    event.listen(engine.sync_engine, "handle_error", lambda _context: metrics.database_errors.inc())
    outage = TelegramOutage()
    bot = JiynBot(
        bot_token,
        base_url=f"{settings.api_base_url}/bot",
        base_file_url=f"{settings.api_base_url}/file/bot",
        request=make_request(),
        get_updates_request=make_get_updates_request(),
        rate_limiter=TelegramRateLimiter(
            rate_limits,
            RetryPolicy(retry_seconds=float(settings.answer_retry_seconds)),
            on_error=metrics.telegram_error,
            outage=outage,
        ),
        outage=outage,
        on_unparsable=metrics.updates_unparsable.inc,
    )

    async def send_plain(chat_id: int, text: str) -> object:
        return await bot.send_message(chat_id, text)

    async def admin_language(telegram_id: int) -> str:
        try:
            return await user_language(sessions, cipher, telegram_id, settings.default_language)
        except DATABASE_ERRORS:
            return settings.default_language

    def update_done(update: object, seconds: float) -> None:
        if isinstance(update, Update):
            bot.acks.done(update.update_id)
        metrics.update_done(update, seconds)

    services = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        knowledge=load_knowledge(),
        cipher=cipher,
        access=AccessService(settings, sessions, cipher),
        feedback=FeedbackService(sessions),
        gaps=GapService(sessions),
        reports=reports,
        review=ReviewService(sessions, cipher),
        exports=ExportService(sessions, cipher),
        stats=StatsService(sessions),
        users=UserDirectory(sessions, cipher),
        metrics=metrics,
        errors=ErrorSummaries(send_plain, settings.admin_ids, admin_language),
        outbox=Outbox(sessions, cipher, bot, metrics, settings.outbox_backoff),
    )
    application: JiynApplication = (
        ApplicationBuilder()
        .bot(bot)
        .concurrent_updates(ChatOrderedUpdateProcessor(on_done=update_done))
        .context_types(ContextTypes(context=JiynContext))
        .persistence(DatabasePersistence(reports))
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data["services"] = services
    add_handlers(application)
    return application
