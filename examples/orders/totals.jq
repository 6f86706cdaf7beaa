# examples/orders/totals.jq: what the merchant sees, the number and the
# price of each product ordered. An es projection (es(1), PROJECTIONS):
# it reads OrderPlaced events of order-* streams, one partition per product.
def from: {category: "order", types: ["OrderPlaced"]};
def key: .data.product;
def init: {quantity: 0, total: 0};
def when_OrderPlaced:
  .event.data as $order
  | .state
  | .quantity = .quantity + $order.quantity
  | .total = .total + $order.quantity * $order.unit_price;
