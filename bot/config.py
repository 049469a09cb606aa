"""Deployment settings (environment) and the bureau's policy (TOML), each read once at start."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
DEFAULT_WECOM_API_URL = "https://qyapi.weixin.qq.com"
WECOM_REQUIRED = (
    "BAOMI_WECOM_CORP_ID",
    "BAOMI_WECOM_AGENT_ID",
    "BAOMI_WECOM_SECRET",
    "BAOMI_WECOM_TOKEN",
    "BAOMI_WECOM_AES_KEY",
)
# Telegram accepts only these characters in a webhook's secret_token; fewer than 32 of them can be guessed.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")
# The pre-publication review's vocabulary as a policy names it (bot/handlers/review/rules.py: Stage and Kind):
# who reviews, and the kinds of information.
REVIEW_STAGES = ("head", "office", "leader")
REVIEW_KINDS = ("news", "notice", "policy", "exam", "personnel", "statistics", "other")


class ConfigError(Exception):
    """A setting is missing or wrong; the message says what to set."""


# Secrets that URLs and error messages may carry: a password in a URL (a database, a proxy), the Bot API token in
# its request path, WeCom's access token and secret in a query string.
_SECRETS = (
    (re.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):[^/\s@]*@"), r"\g<keep>:***@"),
    (re.compile(r"(?P<keep>bot)\d+:[A-Za-z0-9_-]{20,}"), r"\g<keep><token>"),
    (re.compile(r"(?P<keep>(?:access_token|corpsecret|secret)=)[^&\s'\"]+"), r"\g<keep>***"),
)


def scrub(text: str) -> str:
    """The text without the secrets it may carry (passwords in URLs, tokens): for anything printed or logged."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class Policy:
    """Bureau policy. Defaults come from the regulations (教育局保密工作制度); a TOML file can override any.

    Section names below quote the rule each default implements.
    """

    bureau_name: str = "教育局"
    # 第十二条: 机关应组织所有人员签订保密承诺书; 临时工作人员应每年签订一次 -> one cycle a calendar year.
    pledge_cycle_start_month: int = 1
    pledge_due_days: int = 60  # days into the cycle before an unsigned pledge counts as overdue
    # The day the bureau started using the bot. People on the roster before it were in post: they owe the yearly
    # pledge, not the 上岗 one (第七条 4. 对新上岗人员 … 签订保密承诺书), unless their hire date is on or after it; and
    # nobody is overdue on the yearly pledge or quiz before `launch_grace_days` after it. None: the day of the
    # first roster import (bot/services/launch.py), with the same grace.
    launch_date: date | None = None
    launch_grace_days: int = 30
    # 第七条 2. 开展保密知识答卷活动
    quiz_questions: int = 20
    quiz_pass_mark: int = 80
    quiz_excellent_mark: int = 95
    quiz_time_limit_minutes: int = 20
    quiz_retake_cooldown_minutes: int = 10
    quiz_min_seconds_per_question: float = 3.0
    quiz_due_days: int = 60  # days into the year before a quiz not passed counts as overdue
    # Renewals: after the deadline, who has not signed or passed is reminded every so many days (their head gets
    # the list); a reminder can be put off once by `renewal_snooze_days` without moving the schedule.
    renewal_reminder_every_days: int = 7
    renewal_snooze_days: int = 3
    # 第十五条: 每半年…进行一次保密教育 (half-years start on these month/day pairs)
    education_half_year_starts: tuple[tuple[int, int], ...] = ((1, 5), (7, 5))
    education_second_reminder_days: int = 14
    # 第二十七条: 每年应定期对涉密载体进行清查
    inventory_deadlines: tuple[tuple[int, int], ...] = ((12, 20),)
    inventory_reminder_days: tuple[int, ...] = (30, 14, 7, 1)
    # A count that differs from the register with nothing missing is a discrepancy the office resolves with the
    # department (第二十七条: 发现问题及时报告); still open this many days after the report, the office is reminded
    # once.
    inventory_discrepancy_days: int = 14
    # 第七条 3. 每年10月开展保密自查自评工作
    self_inspection_month: int = 10
    # 保密工作常态化工作制度 第十五条: 发现问题及时整改 -> a 否 in a self-check is a 整改 item due this many days later.
    rectification_days: int = 30
    # 第十四条: 脱密期限 一般6个月, 重要1年, 核心2年
    declassification_months_general: int = 6
    declassification_months_important: int = 12
    declassification_months_core: int = 24
    declassification_reminder_days: tuple[int, ...] = (30, 7, 1)
    # The departure procedure (篇3 第十三条): a step waiting this many working days reminds whoever it waits for, once;
    # the departure pledge, asked once the handover is received, is due this many working days later.
    departure_step_days: int = 3
    # Routine reminders only in working hours on working days; leak alerts ignore this.
    working_hours_start: time = time(9, 0)
    working_hours_end: time = time(18, 0)
    # Leak reports: unacknowledged alerts repeat; written report within 24 h; conclusion within 3 months.
    leak_alert_repeat_minutes: int = 15
    leak_written_report_hours: int = 24
    leak_conclusion_months: int = 3
    missing_carrier_days_top_secret: int = 10
    missing_carrier_days_other: int = 60
    escalation_contacts: tuple[str, ...] = ()
    invitation_valid_days: int = 14
    # Handling stamps refused on top of the guard's defaults (bot/domain/guard.py), where they stand as a stamp.
    guard_extra_terms: tuple[str, ...] = ()
    # 第十条: 每年编列花名册，由办公室负责管理. The 花名册 names every core and important person with their level;
    # /export in the chat leaves it out (a chat history on a phone is no place for it) unless this is on, and
    # `baomi export roster` gives it from the command line either way.
    roster_export_in_chat: bool = False
    # What people sent and what the bot said is kept only as long as the bot needs it: processed inbox rows are
    # deleted, and what sent messages said (texts, buttons, exported workbooks) is emptied, this many days on. The
    # records themselves (pledges, cases, papers, reviews, the audit chain) are kept.
    retention_days: int = 7
    # 信息发布保密审查: nothing goes on the website, a 微信公众号 or another public channel before it has passed the
    # secrecy review (保密工作常态化工作制度 第十四条; 保密工作制度 四、网站发布信息的保密规定 (一) 填写审批单,
    # 经严格认真审批程序后方可发布). The chain per kind of information: the unit's head, the secrecy office, and for
    # exam arrangements and personnel items the 分管领导 (网络保密管理制度 1. 必须经过局领导保密审查批准;
    # 教育保密工作制度 第五条 (一)(三): exam papers and arrangements, personnel files). Kinds not listed in
    # `review_chains` follow `review_default_chain`. In TOML: [review_chains] exam = ["head", "office", "leader"].
    review_default_chain: tuple[str, ...] = ("head", "office")
    review_chains: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"exam": ("head", "office", "leader"), "personnel": ("head", "office", "leader")}
    )
    review_limit_days: int = 2  # working days each reviewer has; then they are reminded
    review_escalate_days: int = 1  # working days after that reminder before the request is escalated
    review_escalation_contacts: tuple[str, ...] = ()  # employee ids told of every escalation, besides the roles

    @classmethod
    def from_toml(cls, path: Path) -> Policy:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"BAOMI_POLICY_FILE names {path}, which does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        return cls().with_overrides(raw, source=str(path))

    def with_overrides(self, raw: dict[str, Any], source: str = "policy") -> Policy:
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown policy setting {key!r}")
            current = getattr(self, key)
            changes[key] = _coerce(key, value, current, source)
        policy = replace(self, **changes)
        _check_review(policy, source)
        return policy


def _check_review(policy: Policy, source: str) -> None:
    """Every chain names known stages, each once; every kind named is known."""
    chains = {"review_default_chain": policy.review_default_chain}
    chains |= {f"review_chains.{kind}": chain for kind, chain in policy.review_chains.items()}
    for key, chain in chains.items():
        if not chain or len(set(chain)) != len(chain) or any(stage not in REVIEW_STAGES for stage in chain):
            raise ConfigError(f"{source}: {key} must list some of {', '.join(REVIEW_STAGES)}, each at most once")
    unknown = sorted(set(policy.review_chains) - set(REVIEW_KINDS))
    if unknown:
        raise ConfigError(f"{source}: review_chains names unknown kinds {unknown} (known: {', '.join(REVIEW_KINDS)})")


def _coerce(key: str, value: Any, current: Any, source: str) -> Any:
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false")
        return value
    if current is None:
        if key.endswith("_date") and not isinstance(value, date):
            try:
                return date.fromisoformat(str(value))
            except ValueError as exc:
                raise ConfigError(f"{source}: {key} must be a date like 2026-12-01") from exc
        return value
    if isinstance(current, time):
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError as exc:
            raise ConfigError(f"{source}: {key} must be a time like 09:00") from exc
    if isinstance(current, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key} must be a list")
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if isinstance(current, Mapping):
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            raise ConfigError(f"{source}: {key} must be a table of lists")
        return {k: tuple(v) for k, v in value.items()}
    if isinstance(current, int | float | str) and not isinstance(value, type(current)):
        if isinstance(current, float) and isinstance(value, int):
            return float(value)
        raise ConfigError(f"{source}: {key} must be a {type(current).__name__}")
    return value


@dataclass(frozen=True)
class WeComSettings:
    """A WeCom (企业微信) self-built application: its ids and secret, and its callback's Token and EncodingAESKey."""

    corp_id: str
    agent_id: int
    secret: str = field(repr=False)
    token: str = field(repr=False)
    aes_key: str = field(repr=False)
    # 政务微信 and private deployments serve the same API elsewhere; /cgi-bin/... is appended.
    api_url: str = DEFAULT_WECOM_API_URL
    # A PEM bundle of certificate authorities to trust besides the system's (a government network that inspects
    # TLS with its own CA). The proxy comes from the environment: HTTPS_PROXY, HTTP_PROXY, NO_PROXY.
    ca_file: str | None = None
    # 账号上限数, the enterprise's account limit: the application may send it × 200 person-messages a day. Unset,
    # the roster's WeCom accounts are counted instead (fewer or as many, so never above WeCom's own total).
    account_limit: int | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str
    timezone: ZoneInfo
    telegram_token: str | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    policy: Policy = field(default_factory=Policy)
    log_level: str = "INFO"
    # Telegram allows about 30 messages a second overall; 0 lifts our own limit (benchmarks, local API servers).
    telegram_rate: float = 30.0
    # Events taken from one sender in any 20 seconds (bot/core/intake.py); None: intake's LIMIT; 0 lifts it
    # (benchmarks whose simulated people type faster than anyone).
    intake_limit: int | None = None
    # `baomi serve` takes Telegram updates by webhook at this public URL instead of long polling.
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    wecom: WeComSettings | None = None  # None: the WeCom channel is off
    # Seconds `baomi run` and `baomi serve` keep trying to reach the Telegram Bot API at start before they give up
    # with one line saying what to fix.
    connect_timeout: float = 15.0
    # The address people open (`https://bot.example.edu.cn`): the web console's sign-in links start with it.
    public_url: str | None = None
    # Long polling deletes a Telegram webhook that is set (`baomi run --delete-webhook`); without it, it refuses to.
    telegram_delete_webhook: bool = False
    # Seconds one outbox operation (a call to Telegram or WeCom, with its retries inside the channel) may take before
    # it is abandoned and retried. A new leader recovers its predecessor's rows in flight only after this has passed.
    send_timeout: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, workdir: Path | None = None) -> Settings:
        """Environment variables, with a .env file in the working directory filling the gaps."""
        workdir = workdir or Path.cwd()
        merged: dict[str, str] = {}
        dotenv = workdir / ".env"
        if dotenv.is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        merged.update(os.environ if env is None else env)
        tz_name = merged.get("BAOMI_TIMEZONE", DEFAULT_TIMEZONE)
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"BAOMI_TIMEZONE={tz_name!r} is not a known time zone (e.g. Asia/Shanghai)") from exc
        policy = Policy()
        if policy_file := merged.get("BAOMI_POLICY_FILE"):
            policy = Policy.from_toml(Path(policy_file))
        return cls(
            database_url=merged.get("BAOMI_DATABASE_URL") or sqlite_url(workdir / "baomi.db"),
            timezone=tz,
            telegram_token=merged.get("BAOMI_TELEGRAM_TOKEN") or None,
            telegram_api_url=merged.get("BAOMI_TELEGRAM_API_URL") or DEFAULT_TELEGRAM_API_URL,
            policy=policy,
            log_level=merged.get("BAOMI_LOG_LEVEL", "INFO").upper(),
            telegram_rate=_float(merged, "BAOMI_TELEGRAM_RATE", 30.0),
            intake_limit=int(_float(merged, "BAOMI_INTAKE_LIMIT", -1)) if merged.get("BAOMI_INTAKE_LIMIT") else None,
            send_timeout=_float(merged, "BAOMI_SEND_TIMEOUT", 30.0),
            telegram_webhook_url=merged.get("BAOMI_TELEGRAM_WEBHOOK_URL") or None,
            telegram_webhook_secret=_webhook_secret(merged),
            wecom=_wecom(merged),
            connect_timeout=_float(merged, "BAOMI_CONNECT_TIMEOUT", 15.0),
            public_url=_public_url(merged),
        )

    def require_token(self) -> str:
        if not self.telegram_token:
            raise ConfigError(
                "BAOMI_TELEGRAM_TOKEN is not set: put the token from @BotFather in the environment or in .env "
                "(to try the bot without Telegram run `baomi console --demo`)"
            )
        return self.telegram_token


def _public_url(env: dict[str, str]) -> str | None:
    url = (env.get("BAOMI_PUBLIC_URL") or "").strip().rstrip("/")
    if not url:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise ConfigError(f"BAOMI_PUBLIC_URL={url!r} must be an http(s) address, e.g. https://bot.example.edu.cn")
    return url


def _webhook_secret(env: dict[str, str]) -> str | None:
    secret = env.get("BAOMI_TELEGRAM_WEBHOOK_SECRET") or None
    if env.get("BAOMI_TELEGRAM_WEBHOOK_URL") and secret is None:
        raise ConfigError(
            "BAOMI_TELEGRAM_WEBHOOK_URL is set without BAOMI_TELEGRAM_WEBHOOK_SECRET: set a random secret (32 to 256 "
            "letters, digits, _ and -, e.g. from `openssl rand -hex 32`) so that only Telegram can post updates"
        )
    if secret is not None and not WEBHOOK_SECRET.fullmatch(secret):
        raise ConfigError(
            "BAOMI_TELEGRAM_WEBHOOK_SECRET must be 32 to 256 letters, digits, _ and - (e.g. `openssl rand -hex 32`)"
        )
    return secret


def _wecom(env: dict[str, str]) -> WeComSettings | None:
    values = {key: env.get(key, "").strip() for key in WECOM_REQUIRED}
    missing = [key for key, value in values.items() if not value]
    if len(missing) == len(WECOM_REQUIRED):
        return None
    if missing:
        raise ConfigError(f"WeCom is partly configured: set {', '.join(missing)} as well (or none of the five)")
    corp_id, agent_id, secret, token, aes_key = values.values()
    if not agent_id.isdigit():
        raise ConfigError(f"BAOMI_WECOM_AGENT_ID={agent_id!r} must be the application's numeric AgentId")
    if len(aes_key) != 43:
        raise ConfigError("BAOMI_WECOM_AES_KEY must be the 43-character EncodingAESKey of the application's callback")
    api_url = (env.get("BAOMI_WECOM_API_URL") or DEFAULT_WECOM_API_URL).rstrip("/")
    ca_file = env.get("BAOMI_WECOM_CA_FILE") or None
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"BAOMI_WECOM_CA_FILE={ca_file!r} is not a file (a PEM bundle of certificate authorities)")
    accounts = (env.get("BAOMI_WECOM_ACCOUNT_LIMIT") or "").strip()
    if accounts and (not accounts.isdigit() or int(accounts) == 0):
        raise ConfigError(f"BAOMI_WECOM_ACCOUNT_LIMIT={accounts!r} must be the enterprise's account limit (账号上限数)")
    account_limit = int(accounts) if accounts else None
    return WeComSettings(corp_id, int(agent_id), secret, token, aes_key, api_url, ca_file, account_limit)


def _float(env: dict[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{key}={raw!r} is not a number") from exc
    if value < 0:
        raise ConfigError(f"{key} must not be negative")
    return value


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"
