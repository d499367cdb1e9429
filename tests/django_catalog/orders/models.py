"""The comparison point's tables (issue 21): an order and its items with
the unit price the Catalog quoted, as the Django Order Service keeps them
(SPEC §5)."""
from django.db import models


class Order(models.Model):
    user_id = models.BigIntegerField(db_index=True)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=16, default="CREATED")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class OrderItem(models.Model):
    order = models.ForeignKey(Order, related_name="items", on_delete=models.CASCADE)
    product_id = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
