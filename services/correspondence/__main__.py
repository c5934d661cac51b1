from services.correspondence.app import SERVICE, build_app
from shared.runtime import run_service

run_service(build_app, SERVICE)
