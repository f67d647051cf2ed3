from __future__ import annotations

from typing import Any

from django import forms

from commonguard.measurement.models import DIMENSIONS, MAX_SCORE, MIN_SCORE, SCORE_LABELS, Rating
from commonguard.web.forms import Form

SCORE_CHOICES = [("", "Not scored yet")] + [(str(n), f"{n} — {label}") for n, label in SCORE_LABELS.items()]
SCORE_ERROR = f"A score is a whole number from {MIN_SCORE} to {MAX_SCORE}."


class ScoresForm(Form):
    """Scores, evidence and notes for the subcategories of one CSF function."""

    def __init__(self, *args: Any, subcategories: list[tuple[str, str]], initial_scores: dict[str, Any], **kw: Any):
        super().__init__(*args, **kw)
        self.codes = [code for code, _ in subcategories]
        for code, statement in subcategories:
            row = initial_scores.get(code)
            self.fields[f"score_{code}"] = forms.TypedChoiceField(
                label=f"{code}: {statement}",
                choices=SCORE_CHOICES,
                coerce=int,
                empty_value=None,
                required=False,
                initial=str(row.score) if row else "",
                error_messages={"invalid_choice": SCORE_ERROR},
            )
            self.fields[f"evidence_{code}"] = forms.CharField(
                label=f"Evidence for {code}",
                required=False,
                max_length=4000,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=row.evidence if row else "",
            )
            self.fields[f"notes_{code}"] = forms.CharField(
                label=f"Notes for {code}",
                required=False,
                max_length=4000,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=row.notes if row else "",
            )
        # UswdsFormMixin ran before the fields existed: class them now.
        for field in self.fields.values():
            css = "usa-select" if isinstance(field.widget, forms.Select) else "usa-textarea"
            field.widget.attrs["class"] = css

    def rows(self) -> list[tuple[str, Any, Any, Any]]:
        return [(c, self[f"score_{c}"], self[f"evidence_{c}"], self[f"notes_{c}"]) for c in self.codes]


class SurveyForm(Form):
    information_sharing = forms.ChoiceField(
        label="Information sharing: how would you rate what the state shares with you (alerts, intelligence, advice)?",
        choices=Rating.choices,
        widget=forms.RadioSelect,
    )
    resource_sharing = forms.ChoiceField(
        label="Resource sharing: how would you rate the tools, services, contracts and funding the state shares?",
        choices=Rating.choices,
        widget=forms.RadioSelect,
    )
    education_training = forms.ChoiceField(
        label="Education and training: how would you rate the education and training the state provides?",
        choices=Rating.choices,
        widget=forms.RadioSelect,
    )
    comments = forms.CharField(
        label="Comments (optional): what would make the relationship better?",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    DIMENSIONS = DIMENSIONS


class SurveyOpenForm(Form):
    year = forms.IntegerField(
        label="Survey year",
        min_value=2000,
        max_value=2100,
        help_text="Opening invites every local government's IT lead by e-mail.",
    )
