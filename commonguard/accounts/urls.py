from django.urls import path

from commonguard.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("register/", views.register, name="register"),
    path("mfa/verify/", views.mfa_verify, name="mfa-verify"),
    path("mfa/setup/", views.mfa_setup, name="mfa-setup"),
    path("mfa/recovery-codes/", views.recovery_codes, name="recovery-codes"),
    path("mfa/disable/", views.mfa_disable, name="mfa-disable"),
    path("", views.account, name="account"),
    path("tokens/", views.token_create, name="token-create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("join/", views.join_organization, name="join"),
    path("join/candidates/", views.join_candidates, name="join-candidates"),
    path("join/new-organization/", views.request_organization, name="request-organization"),
]
