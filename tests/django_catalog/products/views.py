"""The Catalog's views with DRF's real behaviours: `request.data` parsing,
SimpleJWT authentication of writes, inactive products hidden from GET but
reservable, stock changed atomically in one conditional UPDATE."""
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework_simplejwt.tokens import AccessToken

from .models import Product


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "description", "price", "is_active", "in_stock",
                  "created_at", "updated_at"]


class ProductList(generics.ListAPIView):
    queryset = Product.objects.filter(is_active=True).order_by("id")
    serializer_class = ProductSerializer
    permission_classes = [AllowAny]


class ProductDetail(generics.RetrieveAPIView):
    queryset = Product.objects.filter(is_active=True)
    serializer_class = ProductSerializer
    permission_classes = [AllowAny]


def _quantity(request):
    quantity = request.data.get("quantity") if hasattr(request.data, "get") else None
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        return None
    return quantity


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def reserve(request, pk):
    quantity = _quantity(request)
    if quantity is None:
        return Response({"detail": "Invalid quantity"}, status=status.HTTP_400_BAD_REQUEST)
    with transaction.atomic():
        try:
            product = Product.objects.select_for_update().get(pk=pk)
        except Product.DoesNotExist:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        taken = Product.objects.filter(pk=pk, in_stock__gte=quantity).update(
            in_stock=F("in_stock") - quantity)
        if not taken:
            return Response({"detail": "Insufficient stock"}, status=status.HTTP_409_CONFLICT)
        product.refresh_from_db(fields=["in_stock"])
    return Response({"remaining_stock": product.in_stock})


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def release(request, pk):
    quantity = _quantity(request)
    if quantity is None:
        return Response({"detail": "Invalid quantity"}, status=status.HTTP_400_BAD_REQUEST)
    with transaction.atomic():
        if not Product.objects.filter(pk=pk).update(in_stock=F("in_stock") + quantity):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        remaining = Product.objects.get(pk=pk).in_stock
    return Response({"remaining_stock": remaining})


@api_view(["POST"])
@permission_classes([AllowAny])
def mint_token(request):
    """Test hook: an access token minted by SimpleJWT itself, as the Auth
    Service mints it (`user_id` written as a string by SimpleJWT 5.5)."""
    user_id = request.data.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        return Response({"detail": "user_id must be a positive integer"}, status=400)
    return Response({"access": str(AccessToken.for_user(User(id=user_id)))})
