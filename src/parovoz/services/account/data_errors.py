"""Error codes of privacy, settings, consents, data exports and deletion (ru + en)."""

from __future__ import annotations

from parovoz.chassis.errors import ApiError, register_messages
from parovoz.services.account.domain import exports, preferences, privacy

ACCOUNT_DELETED = "ACCOUNT_DELETED"
DATA_EXPORT_IN_PROGRESS = "DATA_EXPORT_IN_PROGRESS"
DATA_EXPORT_LIMIT_REACHED = "DATA_EXPORT_LIMIT_REACHED"
DATA_EXPORT_NOT_FOUND = "DATA_EXPORT_NOT_FOUND"
DATA_EXPORT_NOT_READY = "DATA_EXPORT_NOT_READY"

register_messages(
    {
        privacy.VISIBILITY_INVALID: {
            "ru": ("Некорректная видимость профиля", "Допустимые значения: {values}."),
            "en": ("Invalid profile visibility", "Allowed values: {values}."),
        },
        privacy.PRIVACY_FLAG_INVALID: {
            "ru": ("Некорректная настройка приватности", "Значение должно быть true или false."),
            "en": ("Invalid privacy setting", "The value must be true or false."),
        },
        preferences.NOTIFICATION_PREFERENCE_INVALID: {
            "ru": ("Некорректная настройка уведомлений", "Значение должно быть true или false."),
            "en": ("Invalid notification setting", "The value must be true or false."),
        },
        preferences.SECURITY_NOTIFICATIONS_REQUIRED: {
            "ru": (
                "Эти уведомления отключить нельзя",
                "Письма о безопасности аккаунта (вход, смена пароля) приходят всегда.",
            ),
            "en": (
                "These notifications cannot be turned off",
                "Security e-mails (sign-ins, password changes) are always sent.",
            ),
        },
        ACCOUNT_DELETED: {
            "ru": ("Аккаунт удалён", "Пользователь удалил этот аккаунт; его статус больше не меняется."),
            "en": ("Account deleted", "The user deleted this account; its status no longer changes."),
        },
        DATA_EXPORT_IN_PROGRESS: {
            "ru": ("Выгрузка уже готовится", "Дождитесь окончания текущей выгрузки данных."),
            "en": ("Export in progress", "Wait until the current data export is finished."),
        },
        DATA_EXPORT_LIMIT_REACHED: {
            "ru": (
                "Слишком много выгрузок",
                "Не больше {limit} выгрузок в сутки. Повторите через {retryAfter} с.",
            ),
            "en": ("Too many exports", "At most {limit} exports a day. Try again in {retryAfter} s."),
        },
        DATA_EXPORT_NOT_FOUND: {
            "ru": ("Выгрузка не найдена", "Такой выгрузки нет или срок её хранения истёк."),
            "en": ("Export not found", "There is no such export, or it has expired."),
        },
        DATA_EXPORT_NOT_READY: {
            "ru": ("Выгрузка не готова", "Архив ещё готовится или его не удалось собрать."),
            "en": ("Export not ready", "The archive is still being made, or making it failed."),
        },
    }
)


def export_limit_reached(retry_after: int) -> ApiError:
    return ApiError(
        429,
        DATA_EXPORT_LIMIT_REACHED,
        params={"limit": exports.DAILY_LIMIT, "retryAfter": retry_after},
        headers={"Retry-After": str(retry_after)},
    )
