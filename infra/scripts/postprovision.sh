#!/usr/bin/env bash
# azd postprovision hook: make sure the Keybrake operator root token exists in Key Vault.
#
# - Generates a random 256-bit token into the secret `keybrake-root-token` ONLY if the secret does
#   not exist yet; an existing token is never read, printed or replaced.
# - Never prints the token. It tells you how to read it.
#
# Exit status: 0 when the token exists (found, or generated now) or the step is skipped; 1 when it
# could not be made sure of, after printing what to do. azure.yaml runs this hook with
# continueOnError, so `azd up` still deploys the code and shows the failure as a warning; the operator
# API answers 401 until the token exists (`azd hooks run postprovision` once access is fixed).
#
# Inputs (azd passes its environment values to hooks; booleans in any case: true/True/TRUE/1/yes):
#   AZURE_KEY_VAULT_NAME             output of infra/bicep/main.bicep (required)
#   AZURE_RESOURCE_GROUP             output of infra/bicep/main.bicep (to look the secret up through
#                                    Azure Resource Manager when the data plane says Forbidden)
#   KEYBRAKE_GRANT_DEPLOYER_ACCESS   unset or true (the default): the deploying principal was given
#                                    Key Vault Secrets Officer by this provisioning run; new role
#                                    assignments take a few minutes to apply, so Forbidden is retried
#   KEYBRAKE_SKIP_ROOT_TOKEN         true to skip this step (create the token separately)
#   KEYBRAKE_HOOK_RETRY_SECONDS      wait between retries (default 20; tests set 0)
#
# Needs the Azure CLI signed in (`az login`) as the same principal as azd, with Key Vault Secrets
# Officer (or another role that can get and set secrets) on the vault.
set -euo pipefail

secret_name="keybrake-root-token"
vault="${AZURE_KEY_VAULT_NAME:-}"

# true/yes/1/on in any case -> 0 (true); anything else, or unset -> 1 (false).
is_true() {
    case "$(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]')" in
        true | yes | 1 | on | t | y) return 0 ;;
        *) return 1 ;;
    esac
}

if is_true "${KEYBRAKE_SKIP_ROOT_TOKEN:-false}"; then
    echo "postprovision: KEYBRAKE_SKIP_ROOT_TOKEN is set, not checking the root token."
    exit 0
fi

if [[ -z "$vault" ]]; then
    echo "postprovision: AZURE_KEY_VAULT_NAME is not set. Run through azd (azd up / azd provision)," >&2
    echo "or export AZURE_KEY_VAULT_NAME=<vault name> and run this script again." >&2
    exit 1
fi

if ! command -v az >/dev/null 2>&1; then
    cat >&2 <<HELP
postprovision: the Azure CLI (az) is not installed, so the operator root token was not checked.
  Install it (https://aka.ms/azcli), run 'az login' with the same account as 'azd auth login', then:
    azd hooks run postprovision
HELP
    exit 1
fi

permission_help() {
    cat >&2 <<HELP
postprovision: no permission to get/set secrets in Key Vault '$vault', and the root token
'$secret_name' does not exist (or could not be looked up). The app is deployed, but the operator
API answers 401 until the token exists. Either:
  - azd env set KEYBRAKE_GRANT_DEPLOYER_ACCESS true && azd provision
    (gives the deploying principal Key Vault Secrets Officer, Storage Table Data Contributor and
    Storage Blob Data Owner; it is the default, so check it was not set to false), or
  - ask a Key Vault administrator to run: AZURE_KEY_VAULT_NAME=$vault infra/scripts/postprovision.sh
  With KEYBRAKE_RESTRICT_NETWORK on, also add your public IP to KEYBRAKE_ALLOWED_IP_ADDRESSES.
  Check that 'az account show' is the same account as 'azd auth login', then: azd hooks run postprovision
HELP
}

# Whether the secret exists, asked of Azure Resource Manager (control plane): Owner, Contributor or
# Reader on the resource group can see that a secret exists (never its value) without data access.
secret_exists_per_arm() {
    local id
    [[ -n "${AZURE_RESOURCE_GROUP:-}" ]] || return 1
    id="$(az keyvault show --name "$vault" --resource-group "$AZURE_RESOURCE_GROUP" --query id --output tsv 2>/dev/null)" || return 1
    [[ -n "$id" ]] || return 1
    az resource show --ids "$id/secrets/$secret_name" --query id --output tsv >/dev/null 2>&1
}

token_file=""
cleanup() {
    if [[ -n "$token_file" ]]; then
        rm -f "$token_file"
    fi
}
trap cleanup EXIT

# Creates the secret from a 0600 temp file, so the token never appears in a process's arguments.
new_token_file() {
    token_file="$(mktemp)"
    chmod 600 "$token_file"
    # 32 random bytes = 256 bits, as 64 lowercase hex characters.
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$token_file"
}

create_token() {
    az keyvault secret set \
        --vault-name "$vault" \
        --name "$secret_name" \
        --file "$token_file" \
        --encoding utf-8 \
        --content-type "text/plain" \
        --tags "created-by=azd-postprovision" \
        --output none
}

max_attempts=1
if is_true "${KEYBRAKE_GRANT_DEPLOYER_ACCESS:-true}"; then
    max_attempts=10 # role assignments made by this provisioning run can take minutes to apply
fi
retry_seconds="${KEYBRAKE_HOOK_RETRY_SECONDS:-20}"

attempt=1
while true; do
    if output="$(az keyvault secret show --vault-name "$vault" --name "$secret_name" --query id --output tsv 2>&1)"; then
        echo "postprovision: '$secret_name' already exists in Key Vault '$vault'; left unchanged."
        break
    fi

    if grep -q "SecretNotFound" <<<"$output"; then
        new_token_file
        if ! set_output="$(create_token 2>&1)"; then
            echo "postprovision: could not write '$secret_name' to Key Vault '$vault':" >&2
            echo "$set_output" >&2
            permission_help
            exit 1
        fi
        echo "postprovision: generated a new operator root token into '$secret_name' in Key Vault '$vault'."
        break
    fi

    if grep -qiE "Forbidden|not authorized|does not have secrets|ForbiddenByRbac|ForbiddenByFirewall" <<<"$output"; then
        if secret_exists_per_arm; then
            echo "postprovision: '$secret_name' already exists in Key Vault '$vault' (seen through Azure Resource Manager;"
            echo "  this principal has no Key Vault data access); left unchanged."
            break
        fi
        if ((attempt < max_attempts)); then
            echo "postprovision: Key Vault access not effective yet (attempt $attempt/$max_attempts); retrying in ${retry_seconds} s..."
            attempt=$((attempt + 1))
            sleep "$retry_seconds"
            continue
        fi
        permission_help
        exit 1
    fi

    echo "postprovision: could not read '$secret_name' from Key Vault '$vault':" >&2
    echo "$output" >&2
    echo "  Fix the cause above (is 'az login' done, with the same account as 'azd auth login'?), then: azd hooks run postprovision" >&2
    exit 1
done

cat <<INFO

Read the operator root token (treat it like a password; it sees every tenant):
  az keyvault secret show --vault-name $vault --name $secret_name --query value --output tsv
INFO
