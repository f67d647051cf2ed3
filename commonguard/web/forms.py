"""Forms rendered with USWDS markup: one renderer, one field template for the whole site."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import TemplatesSetting

_WIDGET_CLASSES = {
    forms.Select: "usa-select",
    forms.SelectMultiple: "usa-select",
    forms.Textarea: "usa-textarea",
    forms.CheckboxInput: "usa-checkbox__input",
    forms.RadioSelect: "usa-radio__input",
}


class UswdsRenderer(TemplatesSetting):
    form_template_name = "forms/uswds_form.html"
    field_template_name = "forms/uswds_field.html"


class UswdsFormMixin:
    """Adds the USWDS class to each widget."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for field in self.fields.values():
            css = next((c for w, c in _WIDGET_CLASSES.items() if isinstance(field.widget, w)), "usa-input")
            field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} {css}".strip()


class Form(UswdsFormMixin, forms.Form):
    pass
