"""Errors as CONTRACTS.md fixes them: an UPPER_SNAKE code, a localized title and detail, a pointer.

Domain code raises `ApiError` (or one of the shortcuts); the REST layer renders it as
`{"errors": [...]}`, the gRPC layer as `google.rpc.Status` + `ErrorInfo` with the same code.
Messages live in one catalogue keyed by code; services add their own with `register_messages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# code -> language -> (title, detail template). Detail templates use str.format(**params).
_MESSAGES: dict[str, dict[str, tuple[str, str]]] = {}
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"


def register_messages(messages: Mapping[str, Mapping[str, tuple[str, str]]]) -> None:
    """Add localized (title, detail) pairs for error codes; both `ru` and `en` are required."""
    for code, by_lang in messages.items():
        missing = [lang for lang in LANGUAGES if lang not in by_lang]
        if missing:
            raise ValueError(f"error code {code} lacks messages for {missing}")
        _MESSAGES[code] = dict(by_lang)


def message_for(code: str, language: str, params: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The (title, detail) of `code` in `language` (falls back to ru, then to the code itself)."""
    by_lang = _MESSAGES.get(code) or _MESSAGES["INTERNAL_ERROR"]
    title, detail = by_lang.get(language) or by_lang[DEFAULT_LANGUAGE]
    if params:
        try:
            detail = detail.format(**params)
        except (KeyError, IndexError, ValueError):
            pass
    return title, detail


@dataclass(frozen=True)
class ErrorItem:
    """One entry of the `errors` array."""

    code: str
    pointer: str | None = None
    parameter: str | None = None  # for query-string errors: source.parameter
    params: Mapping[str, Any] = field(default_factory=dict)
    detail: str | None = None  # overrides the catalogue detail (e.g. a validator's own text)
    # camelCase JSON a client needs to act on the error (e.g. the captcha to render): `meta`
    meta: Mapping[str, Any] | None = None


class ApiError(Exception):
    """An error with a contract code and an HTTP status; carries one or more `ErrorItem`s."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        params: Mapping[str, Any] | None = None,
        detail: str | None = None,
        items: list[ErrorItem] | None = None,
        headers: Mapping[str, str] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.items = items or [ErrorItem(code, pointer, parameter, params or {}, detail, meta)]
        self.headers = dict(headers or {})
        super().__init__(f"{status} {code}")


def bad_request(code: str = "BAD_REQUEST", **kw: Any) -> ApiError:
    return ApiError(400, code, **kw)


def unauthorized(code: str = "UNAUTHORIZED", **kw: Any) -> ApiError:
    return ApiError(401, code, headers={"WWW-Authenticate": "Bearer"}, **kw)


def forbidden(code: str = "FORBIDDEN", **kw: Any) -> ApiError:
    return ApiError(403, code, **kw)


def not_found(code: str = "NOT_FOUND", **kw: Any) -> ApiError:
    return ApiError(404, code, **kw)


def conflict(code: str = "CONFLICT", **kw: Any) -> ApiError:
    return ApiError(409, code, **kw)


def unprocessable(code: str = "VALIDATION_FAILED", **kw: Any) -> ApiError:
    return ApiError(422, code, **kw)


def too_many_requests(retry_after: int, code: str = "RATE_LIMITED") -> ApiError:
    return ApiError(429, code, params={"retryAfter": retry_after}, headers={"Retry-After": str(retry_after)})


register_messages(
    {
        "BAD_REQUEST": {
            "ru": ("Некорректный запрос", "Запрос не может быть обработан."),
            "en": ("Bad request", "The request cannot be processed."),
        },
        "MALFORMED_JSON": {
            "ru": ("Некорректный JSON", "Тело запроса не является корректным JSON."),
            "en": ("Malformed JSON", "The request body is not valid JSON."),
        },
        "UNSUPPORTED_MEDIA_TYPE": {
            "ru": ("Неподдерживаемый тип содержимого", "Ожидается application/json."),
            "en": ("Unsupported media type", "application/json is expected."),
        },
        "VALIDATION_FAILED": {
            "ru": ("Ошибка проверки данных", "Поле заполнено неверно."),
            "en": ("Validation failed", "The field is invalid."),
        },
        "INVALID_PARAMETER": {
            "ru": ("Некорректный параметр", "Параметр {name} задан неверно."),
            "en": ("Invalid parameter", "The parameter {name} is invalid."),
        },
        "INVALID_PAGINATION": {
            "ru": ("Некорректная пагинация", "page ≥ 1, per_page от 1 до {max}."),
            "en": ("Invalid pagination", "page must be ≥ 1 and per_page between 1 and {max}."),
        },
        "INVALID_FILTER": {
            "ru": ("Некорректный фильтр", "Фильтр не может быть применён: {reason}."),
            "en": ("Invalid filter", "The filter cannot be applied: {reason}."),
        },
        "INVALID_SORT": {
            "ru": ("Некорректная сортировка", "Сортировка по полю {field} недоступна."),
            "en": ("Invalid sort", "Sorting by {field} is not available."),
        },
        "INVALID_FIELDS": {
            "ru": ("Некорректный выбор полей", "Поле {field} недоступно."),
            "en": ("Invalid field selection", "The field {field} is not available."),
        },
        "UNAUTHORIZED": {
            "ru": ("Требуется аутентификация", "Передайте действительный токен доступа."),
            "en": ("Authentication required", "Provide a valid access token."),
        },
        "INVALID_TOKEN": {
            "ru": ("Недействительный токен", "Токен доступа недействителен или истёк."),
            "en": ("Invalid token", "The access token is invalid or expired."),
        },
        "FORBIDDEN": {
            "ru": ("Доступ запрещён", "У вас нет прав на это действие."),
            "en": ("Forbidden", "You are not allowed to do this."),
        },
        "NOT_FOUND": {
            "ru": ("Не найдено", "Запрошенный ресурс не найден."),
            "en": ("Not found", "The requested resource was not found."),
        },
        "ROUTE_NOT_FOUND": {
            "ru": ("Маршрут не найден", "Такого адреса API нет."),
            "en": ("Route not found", "There is no such API route."),
        },
        "METHOD_NOT_ALLOWED": {
            "ru": ("Метод не поддерживается", "Этот метод не поддерживается для данного адреса."),
            "en": ("Method not allowed", "This method is not supported for this route."),
        },
        "CONFLICT": {
            "ru": ("Конфликт", "Запрос конфликтует с текущим состоянием ресурса."),
            "en": ("Conflict", "The request conflicts with the current state of the resource."),
        },
        "PRECONDITION_FAILED": {
            "ru": ("Условие не выполнено", "Ресурс изменился с момента последнего чтения."),
            "en": ("Precondition failed", "The resource changed since it was last read."),
        },
        "PAYLOAD_TOO_LARGE": {
            "ru": ("Слишком большой запрос", "Тело запроса превышает {limit} байт."),
            "en": ("Payload too large", "The request body exceeds {limit} bytes."),
        },
        "IDEMPOTENCY_KEY_REUSED": {
            "ru": ("Ключ идемпотентности уже использован", "Этот ключ использован с другим телом запроса."),
            "en": ("Idempotency key reused", "This key was already used with another request body."),
        },
        "IDEMPOTENCY_KEY_IN_FLIGHT": {
            "ru": ("Запрос уже выполняется", "Запрос с этим ключом идемпотентности ещё обрабатывается."),
            "en": ("Request in progress", "A request with this idempotency key is still being processed."),
        },
        "INVALID_IDEMPOTENCY_KEY": {
            "ru": ("Некорректный ключ идемпотентности", "Ключ должен содержать от 1 до 255 символов."),
            "en": ("Invalid idempotency key", "The key must be 1 to 255 characters long."),
        },
        "RATE_LIMITED": {
            "ru": ("Слишком много запросов", "Повторите попытку через {retryAfter} с."),
            "en": ("Too many requests", "Try again in {retryAfter} s."),
        },
        "INTERNAL_ERROR": {
            "ru": ("Внутренняя ошибка", "Произошла непредвиденная ошибка. Мы уже разбираемся."),
            "en": ("Internal error", "An unexpected error occurred. We are looking into it."),
        },
        "BAD_GATEWAY": {
            "ru": ("Сервис недоступен", "Сервис {service} не отвечает."),
            "en": ("Bad gateway", "The {service} service does not answer."),
        },
        "SERVICE_UNAVAILABLE": {
            "ru": ("Сервис временно недоступен", "Сервис {service} временно недоступен."),
            "en": ("Service unavailable", "The {service} service is temporarily unavailable."),
        },
        "GATEWAY_TIMEOUT": {
            "ru": ("Превышено время ожидания", "Сервис {service} не ответил вовремя."),
            "en": ("Gateway timeout", "The {service} service did not answer in time."),
        },
    }
)
