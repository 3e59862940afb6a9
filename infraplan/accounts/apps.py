from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "infraplan.accounts"
    verbose_name = "People and organisations"

    def ready(self) -> None:
        from allauth.account import signals as account_signals
        from allauth.mfa import signals as mfa_signals

        from . import receivers

        account_signals.email_confirmed.connect(receivers.registration_start_on_email_confirmed)
        account_signals.password_changed.connect(receivers.password_change_record)
        account_signals.password_set.connect(receivers.password_change_record)
        account_signals.password_reset.connect(receivers.password_reset_record)
        mfa_signals.authenticator_added.connect(receivers.authenticator_added_record)
        mfa_signals.authenticator_removed.connect(receivers.authenticator_removed_record)
        mfa_signals.authenticator_reset.connect(receivers.authenticator_reset_record)
        mfa_signals.authentication_failed.connect(receivers.mfa_failure_record)
