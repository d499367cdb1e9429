"""`manage.py seed_products seed.json`: load products with fixed ids."""
import json

from django.core.management.base import BaseCommand

from products.models import Product


class Command(BaseCommand):
    help = "Load products (with their ids) from a JSON list"

    def add_arguments(self, parser):
        parser.add_argument("seed")

    def handle(self, *args, **options):
        with open(options["seed"]) as seed:
            for item in json.load(seed):
                Product.objects.update_or_create(id=item["id"], defaults={
                    "name": item["name"], "description": item.get("description", ""),
                    "price": item["price"], "is_active": item["is_active"],
                    "in_stock": item["in_stock"]})
