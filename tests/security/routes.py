"""The URL configuration as a list of routes, for the tests that must cover every one of them."""

from django.urls import URLPattern, URLResolver, get_resolver


def all_routes():
    """Every URL pattern as its full route text (admin's own routes collapsed to 'admin/')."""
    out = []

    def walk(resolver, prefix):
        for p in resolver.url_patterns:
            route = prefix + str(p.pattern)
            if route.startswith("admin/") and route != "admin/login/":
                if "admin/" not in out:
                    out.append("admin/")
                continue
            if isinstance(p, URLResolver):
                walk(p, route)
            elif isinstance(p, URLPattern) and route not in out:
                out.append(route)

    walk(get_resolver(), "")
    return out


def example_urls(route: str, task_id) -> list[str]:
    """Concrete URLs of a route, about the task ``task_id`` where the route names one."""
    if route == "api/v1/^.*$":
        return ["/api/v1/no-such-endpoint"]
    if route == "admin/":
        return ["/admin/", "/admin/logout/", "/admin/tasks/task/", f"/admin/tasks/task/{task_id}/delete/"]
    url = "/" + route.replace("<uuid:task_id>", str(task_id)).replace("<uuidstr:task_id>", str(task_id))
    for kind in ("uuid", "uuidstr"):  # a token id of nobody's: the answer must still be a clean 404
        url = url.replace(f"<{kind}:token_id>", "00000000-0000-4000-8000-00000000700c")
    url = url.replace("<int:number>", "1")  # a page number (the task page's page images)
    if "<str:action>" in url:
        return [url.replace("<str:action>", action) for action in ("retry", "cancel", "delete")]
    assert "<" not in url, f"no example for {route}: add one to tests/security/routes.py"
    return [url]
