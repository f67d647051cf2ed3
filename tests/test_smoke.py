def test_home_needs_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_member_sees_home(world, as_persona):
    response = as_persona("ingham_member").get("/")
    assert response.status_code == 200
    assert b"Ingham County" in response.content
