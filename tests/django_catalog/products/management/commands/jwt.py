"""The Auth Service's side of asymmetric tokens, for the tests (issue 23).

`manage.py jwt keypair ALG PRIVATE_PEM PUBLIC_PEM`
    a fresh key pair for ALG (RS*/PS*: RSA 2048; ES256: P-256; ES384:
    P-384; EdDSA: Ed25519), written with the `cryptography` package.

`manage.py jwt mint ALG PRIVATE_PEM USER_ID [--kid KID] [--lifetime S] [--token-type T]`
    prints an access token for USER_ID exactly as SimpleJWT issues one
    with `ALGORITHM = ALG` and `SIGNING_KEY = <PRIVATE_PEM>`: its
    `AccessToken` claims (token_type, exp, iat, jti, user_id) encoded by
    its `TokenBackend`. With --kid, the same claims and key through PyJWT
    (SimpleJWT's own encoder) with a `kid` header, as an Auth Service that
    rotates keys sets it.

`manage.py jwt jwks ALG OUT KID=PUBLIC_PEM...`
    writes the JWKS document an Auth Service publishes for these public
    keys: each key as PyJWT's algorithm exports it as a JWK (`to_jwk`),
    with its `kid`, `alg` and `use: sig`.
"""
import json
import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from datetime import timedelta
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken


def private_key(algorithm):
    if algorithm[:2] in ("RS", "PS"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise CommandError(f"no key pair for {algorithm}")


class Command(BaseCommand):
    help = "Key pairs and access tokens as the Auth Service makes them"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        keypair = sub.add_parser("keypair")
        keypair.add_argument("algorithm")
        keypair.add_argument("private_pem")
        keypair.add_argument("public_pem")
        mint = sub.add_parser("mint")
        mint.add_argument("algorithm")
        mint.add_argument("private_pem")
        mint.add_argument("user_id", type=int)
        mint.add_argument("--kid")
        mint.add_argument("--lifetime", type=int)
        mint.add_argument("--token-type")
        jwks = sub.add_parser("jwks")
        jwks.add_argument("algorithm")
        jwks.add_argument("out")
        jwks.add_argument("keys", nargs="+")

    def handle(self, *args, **options):
        algorithm = options["algorithm"]
        if options["action"] == "keypair":
            key = private_key(algorithm)
            with open(options["private_pem"], "wb") as out:
                out.write(key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()))
            with open(options["public_pem"], "wb") as out:
                out.write(key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            return
        if options["action"] == "jwks":
            exporter = pyjwt.get_algorithm_by_name(algorithm)
            keys = []
            for labelled in options["keys"]:
                kid, path = labelled.split("=", 1)
                with open(path, "rb") as source:
                    public = serialization.load_pem_public_key(source.read())
                jwk = exporter.to_jwk(public, as_dict=True)
                jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})
                keys.append(jwk)
            with open(options["out"], "w") as out:
                json.dump({"keys": keys}, out)
            return
        with open(options["private_pem"]) as source:
            signing_key = source.read()
        token = AccessToken.for_user(User(id=options["user_id"]))
        if options["lifetime"] is not None:
            token.set_exp(lifetime=timedelta(seconds=options["lifetime"]))
        if options["token_type"]:
            token["token_type"] = options["token_type"]
        backend = TokenBackend(algorithm, signing_key=signing_key)
        if options["kid"]:
            encoded = pyjwt.encode(token.payload, backend.prepared_signing_key,
                                   algorithm=algorithm, headers={"kid": options["kid"]})
        else:
            encoded = backend.encode(token.payload)
        self.stdout.write(encoded)
