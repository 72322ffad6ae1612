"""Sign-in and sign-out pages."""

import logging

from django.contrib.auth import authenticate, login, logout
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import external_auth
from accounts.forms import LoginForm
from accounts.services import token_session_create, token_session_end

log = logging.getLogger("tool_ocr.auth")


_STATUS = {
    external_auth.InvalidCredentials: 401,
    external_auth.AccountLocked: 423,
    external_auth.AccountDisabled: 403,
    external_auth.RateLimited: 429,
}


def client_ip(request):
    return request.META.get("REMOTE_ADDR") or None


def _safe_next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return "/"


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return HttpResponseRedirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = authenticate(request, username=form.cleaned_data["username"], password=form.cleaned_data["password"])
        except external_auth.ExternalAuthError as exc:
            user, error = None, exc.message
            status = _STATUS.get(type(exc), 503)
        if user is not None:
            login(request, user)  # rotates the session key
            result = getattr(request, "_external_auth_result", None)
            if result is not None:
                token_session_create(user=user, session_key=request.session.session_key, result=result,
                                     ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))
            log.info("sign-in succeeded", extra={"user_id": user.pk})
            return HttpResponseRedirect(_safe_next(request))
        if error is None:
            error, status = external_auth.InvalidCredentials.message, 401
        log.info("sign-in failed", extra={"reason": error})
    elif request.method == "POST":
        error, status = "Enter both your email and your password.", 400
    return render(request, "accounts/login.html",
                  {"form": form, "error": error, "next": request.GET.get("next", "")}, status=status)


@require_POST
def logout_view(request):
    if request.session.session_key:
        token_session_end(session_key=request.session.session_key)
    logout(request)
    return HttpResponseRedirect("/login/")
