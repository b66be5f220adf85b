//! Static content: `OTA_HotelDescriptiveInfoRQ` → `OTA_HotelDescriptiveInfoRS` (spec "Content").

use super::xml::{El, Element, OTA_NS};
use super::{required, Ctx, OtaError, Outcome};

/// OTA Hotel Amenity Code (HAC) and text for a world amenity.
fn service(amenity: &str) -> Option<(u16, &'static str)> {
    Some(match amenity {
        "WIFI" => (178, "Free Wi-Fi"),
        "POOL" => (71, "Swimming pool"),
        "SPA" => (84, "Spa"),
        "GYM" => (35, "Fitness centre"),
        "PARKING" => (68, "Parking"),
        "RESTAURANT" => (76, "Restaurant"),
        "BAR" => (165, "Bar"),
        "AIRPORT_SHUTTLE" => (41, "Airport shuttle"),
        _ => return None,
    })
}

pub(super) fn answer(ctx: &Ctx, rq: &Element) -> Result<Outcome, OtaError> {
    let state = ctx.state;
    let info = match rq
        .all(OTA_NS, &["HotelDescriptiveInfos", "HotelDescriptiveInfo"])
        .as_slice()
    {
        [] => {
            return Err(OtaError::missing(
                "HotelDescriptiveInfos/HotelDescriptiveInfo",
            ))
        }
        [one] => *one,
        _ => {
            return Err(OtaError::invalid(
                "Only one HotelDescriptiveInfo per request",
            ))
        }
    };
    let code = required(info, "HotelCode")?;
    let hotel = state
        .catalog
        .hotel(code)
        .ok_or_else(|| OtaError::unknown_hotel(code))?;
    let Some(world) = state.world.hotels.get(hotel.world_idx) else {
        return Err(OtaError::unknown_hotel(code));
    };
    let services = world
        .amenities
        .iter()
        .filter_map(|a| service(a))
        .map(|(code, text)| {
            El::new("Service")
                .attr("Code", code)
                .child(El::new("DescriptiveText").text(text))
        });
    let rooms = hotel.rooms.iter().map(|r| {
        El::new("GuestRoom")
            .attr("Code", &r.code)
            .attr("RoomTypeName", &r.name)
            .attr("MaxOccupancy", r.max_occupancy)
    });
    let dest = world.dest();
    let content = El::new("HotelDescriptiveContent")
        .attr("HotelCode", &hotel.code)
        .attr("HotelName", &hotel.name)
        .child(
            El::new("HotelInfo")
                .child(
                    El::new("Position")
                        .attr("Latitude", format!("{:.5}", world.lat))
                        .attr("Longitude", format!("{:.5}", world.lon)),
                )
                .child(El::new("Services").children(services)),
        )
        .child(El::new("FacilityInfo").child(El::new("GuestRooms").children(rooms)))
        .child(
            El::new("AffiliationInfo").child(
                El::new("Awards").child(
                    El::new("Award")
                        .attr("Provider", "Local Star Rating")
                        .attr("Rating", world.stars),
                ),
            ),
        )
        .child(
            El::new("ContactInfos").child(
                El::new("ContactInfo").child(
                    El::new("Addresses").child(
                        El::new("Address")
                            .child(El::new("AddressLine").text(&world.address))
                            .child(El::new("CityName").text(dest.city))
                            .child(El::new("CountryName").attr("Code", dest.country)),
                    ),
                ),
            ),
        );
    Ok(Outcome {
        body: vec![El::new("HotelDescriptiveContents").child(content)],
        ..Outcome::default()
    })
}
