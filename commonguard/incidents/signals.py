"""Signals other capabilities listen to, so that the incident report does not import them.

`report_submitted` is sent inside the submitting transaction, once, when a draft becomes a report
(the statutory clocks open the report's obligations on it); `report_updated` after a supplemental
update or a change of the facts a clock starts from (discovery, confirmation, payment, ...), so the
obligations' due times follow the facts.
"""

from django.dispatch import Signal

report_submitted = Signal()  # sender=IncidentReport, report=..., by=User
report_updated = Signal()  # sender=IncidentReport, report=..., by=User, changed=frozenset of field names
