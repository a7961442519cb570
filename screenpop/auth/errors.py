"""The auth slice's refusals."""

from __future__ import annotations

from screenpop.web.errors import Forbidden, ServiceUnavailable, Unauthenticated, WebError


class CsrfRefused(Forbidden):
    error_id = "csrf"
    default_message = "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page puis réessayez."


class LoginCsrfRefused(Forbidden):
    error_id = "login-csrf"
    default_message = "Le formulaire de connexion a expiré. Veuillez réessayer."


class BadCredentials(Unauthenticated):
    """Unknown login or wrong password: the same answer for both."""

    error_id = "bad-credentials"
    default_message = "Identifiant ou mot de passe incorrect."


class Throttled(WebError):
    error_id = "throttled"
    status = 429
    default_message = "Trop de tentatives de connexion échouées. Réessayez dans quelques minutes."


class TooManyAtOnce(Throttled):
    error_id = "too-many-at-once"
    default_message = "Trop de connexions en cours depuis cette adresse. Réessayez dans un instant."


class AuthUnavailable(ServiceUnavailable):
    pass
