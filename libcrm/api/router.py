from ninja import NinjaAPI

api = NinjaAPI(title="libcrm", version="1")
