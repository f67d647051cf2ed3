"""Serializers used without building their fields on every call.

A DRF serializer builds its fields when it is first used: a ModelSerializer reads the model's
fields and constructs a field object for each, every time, which for a 40-field report cost more
CPU than the database work of storing it (bench/reports/README.md). The fields of a serializer
that needs no context (no request, no view) do not change between calls, so one instance per class
is built once and its fields reused:

- `validated(Serializer, data)` checks `data` and returns the validated values, or raises the same
  `ValidationError` (field by field) as `is_valid(raise_exception=True)`;
- `represented(Serializer, instance)` is `Serializer(instance).data` as a plain dict.

Neither stores anything on the shared instance, so concurrent requests may use it. Serializers
that read `self.context` must not be used through here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings


@cache
def _shared(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    instance = serializer_class()
    instance.fields  # noqa: B018 - built once, here
    return instance


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    try:
        return dict(_shared(serializer_class).run_validation(data))
    except serializers.ValidationError as exc:
        detail = exc.detail
        if isinstance(detail, list):  # no data at all (a JSON null): as is_valid() words it
            detail = {api_settings.NON_FIELD_ERRORS_KEY: detail}
        raise serializers.ValidationError(detail) from None


def represented(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    return dict(_shared(serializer_class).to_representation(instance))
