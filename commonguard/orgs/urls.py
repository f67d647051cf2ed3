from django.urls import path, re_path

from commonguard.orgs import views

app_name = "orgs"
urlpatterns = [
    path("", views.directory, name="directory"),
    path("mine/", views.my_organization, name="mine"),
    path("approvals/", views.approvals, name="approvals"),
    path("regions/", views.regions, name="regions"),
    path("regions/<int:pk>/", views.region_update, name="region-update"),
    path("<int:pk>/region/", views.organization_region, name="region"),
    path("<int:pk>/", views.organization_detail, name="detail"),
    path("<int:pk>/profile/", views.organization_update, name="update"),
    path("<int:pk>/contacts/", views.contact_assign, name="contact-assign"),
    re_path(r"^(?P<pk>\d+)/(?P<decision>approve|decline)/$", views.organization_decide, name="decide"),
    path("contacts/<int:pk>/end/", views.contact_end, name="contact-end"),
    path("memberships/<int:pk>/role/", views.membership_role, name="membership-role"),
    re_path(
        r"^memberships/(?P<pk>\d+)/(?P<decision>approve|decline|remove)/$",
        views.membership_decide,
        name="membership-decide",
    ),
]
