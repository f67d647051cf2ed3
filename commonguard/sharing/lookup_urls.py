from django.urls import path

from commonguard.sharing import lookup_views

app_name = "lookup"
urlpatterns = [path("", lookup_views.lookup_page, name="lookup")]
